import { UnrecoverableError } from '@phudge/core';
import { PhudgeError } from '@phudge/sdk';
import { clusterCommand } from './commands/cluster.js';
import { evalCommand } from './commands/eval.js';
import { cancelCommand, resultsCommand, statusCommand, submitCommand } from './commands/fleet.js';
import { gradeCommand } from './commands/grade.js';
import { reportCommand } from './commands/report.js';
import { producerCommand, workerCommand } from './commands/services.js';
import { UsageError } from './usage.js';

const USAGE = `Usage: phudge <command> [options]

Commands:
  grade <input.jsonl|->        grade chatbot logs locally with a judge bundle (no Redis, no S3)
  submit <s3://...|file> [--wait]  submit a run to the fleet
  eval <vicuna|hhh|pandalm|file>  agreement with GPT-4 and humans on judge benchmarks
  report <run> [--baseline <run>]  an HTML report of a run, against a baseline
  status <runId>               a run's progress
  results <runId> [-o FILE]    a finished run's results, in input order
  cancel <runId>               cancel a run (the chunks on the engines finish and are kept)
  producer                     start the producer (API, ingestion, collector)
  worker                       start a grading worker
  cluster                      start a whole fleet on this machine (Redis, s3rver, producer, 2 workers)

Run "phudge <command> --help" for a command's options.`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  grade: gradeCommand,
  eval: evalCommand,
  report: reportCommand,
  submit: submitCommand,
  status: statusCommand,
  results: resultsCommand,
  cancel: cancelCommand,
  producer: producerCommand,
  worker: workerCommand,
  cluster: clusterCommand,
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

/** Exit status and message of a failure: usage errors 2, known failures 1 with their message, bugs 1 with a stack. */
function exitStatus(error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`phudge: ${error.message}\n\n${error.usage}\n`);
    return 2;
  }
  if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`phudge: ${error.message}\n`);
    return 2;
  }
  if (error instanceof UnrecoverableError || error instanceof PhudgeError) {
    process.stderr.write(`phudge: ${error.message}\n`);
    return 1;
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`phudge: unexpected error: ${detail}\n`);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.exitCode = exitStatus(error);
  },
);
