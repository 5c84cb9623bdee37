import { UnrecoverableError } from '@phudge/core';
import { gradeCommand } from './commands/grade.js';
import { UsageError } from './usage.js';

const USAGE = `Usage: phudge <command> [options]

Commands:
  grade <input.jsonl|->   grade chatbot logs locally with a judge bundle

Run "phudge <command> --help" for a command's options.`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  grade: gradeCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}"`, USAGE);
  return command(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`phudge: ${error.message}\n\n${error.usage}\n`);
      process.exitCode = 2;
    } else if (
      error instanceof UnrecoverableError ||
      (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      process.stderr.write(`phudge: ${error.message}\n`);
      process.exitCode = error instanceof UnrecoverableError ? 1 : 2;
    } else {
      process.stderr.write(
        `phudge: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    }
  },
);
