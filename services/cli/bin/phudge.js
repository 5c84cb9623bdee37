#!/usr/bin/env node
// On Node < 22 the AWS SDK warns, in every process, that its releases after January 2027 will need
// Node >= 22. Which SDK release runs is fixed by this package's lockfile, not by the user, and
// Node 20.11+ is supported (Node 24 LTS is the target), so the user has nothing to act on: the
// SDK's documented switch turns it off (github.com/aws/aws-sdk-js-v3/issues/7983). Set before the
// SDK loads, and inherited by the services `phudge cluster` starts; a value the user set wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
await import('../dist/main.js');
