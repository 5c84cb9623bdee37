import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { TestFleet } from '../support/fleet.js';
import { helm } from '../support/helm.js';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}

// The Secret an operator creates (docs/deployment.md): three API tokens and KEDA's own.
const SECRET = {
  tokens: [
    `nightly:submit+read:${randomBytes(12).toString('hex')}`,
    `dashboard:read:${randomBytes(12).toString('hex')}`,
    randomBytes(12).toString('hex'),
  ].join(','),
  'metrics-token': randomBytes(12).toString('hex'),
};

describe('KEDA against a producer deployed by the chart, with three API tokens', () => {
  // biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects are read field by field
  let manifests: any[];
  let fleet: TestFleet;
  beforeAll(async () => {
    manifests = parseAllDocuments(helm(['template', 'fleet', 'helm/phudge', '--namespace', 'judges']))
      .map((doc) => doc.toJSON())
      .filter(Boolean);
    const producer = manifests.find((m) => m.kind === 'Deployment' && m.metadata.name.endsWith('-producer'));
    // The producer's API variables as Kubernetes resolves them from the Secret.
    const env = Object.fromEntries(
      (producer.spec.template.spec.containers[0].env as EnvVar[])
        .filter((entry) => entry.name.startsWith('PHUDGE_API_'))
        .map((entry) => {
          const ref = entry.valueFrom?.secretKeyRef;
          expect(ref?.name, entry.name).toBe('phudge-api');
          return [entry.name, SECRET[ref?.key as keyof typeof SECRET]];
        }),
    );
    fleet = await TestFleet.start(env);
  });
  afterAll(() => fleet?.close());

  it('authenticates the rendered metrics-api trigger with the metrics token and reads pending', async () => {
    const trigger = manifests.find((m) => m.kind === 'ScaledObject').spec.triggers[0];
    const auth = manifests.find((m) => m.kind === 'TriggerAuthentication');
    const [ref] = auth.spec.secretTargetRef;
    expect(ref).toMatchObject({ parameter: 'token', name: 'phudge-api' });
    expect(trigger.metadata.authMode).toBe('bearer');
    // What KEDA's metrics-api scaler sends: GET url with Authorization: Bearer <token>.
    const response = await fetch(`${fleet.apiUrl}${new URL(trigger.metadata.url).pathname}`, {
      headers: { authorization: `Bearer ${SECRET[ref.key as keyof typeof SECRET]}` },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(typeof body[trigger.metadata.valueLocation]).toBe('number');
  });

  it('would not authenticate with the whole token list, as the chart used to send', async () => {
    const response = await fetch(`${fleet.apiUrl}/v1/queue`, {
      headers: { authorization: `Bearer ${SECRET.tokens}` },
    });
    expect(response.status).toBe(401);
  });
});
