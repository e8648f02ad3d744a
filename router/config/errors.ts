import type { ConfigProblem } from './types.js';

/** `tcpListener "backend:8080": port "80a" is not a number`, after `line 12: ` when the file has lines. */
export function formatProblem(problem: ConfigProblem): string {
  const subject = problem.attribute === undefined ? '' : `${problem.attribute} `;
  const line = problem.line === undefined ? '' : `line ${problem.line}: `;
  return `${line}${problem.entity}: ${subject}${problem.message}`;
}

/**
 * Everything wrong with one config file. Parsing collects all problems before
 * throwing so that an operator can fix a file in one pass, not one error per run.
 */
export class ConfigError extends Error {
  readonly code = 'KSKUP_ROUTER_CONFIG_INVALID';
  readonly problems: readonly ConfigProblem[];
  readonly file?: string;

  constructor(problems: readonly ConfigProblem[], file?: string) {
    super(describeProblems(problems, file));
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
    if (file !== undefined) this.file = file;
  }
}

function describeProblems(problems: readonly ConfigProblem[], file: string | undefined): string {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  const lines = problems.map((problem) => `  ${formatProblem(problem)}`);
  return [`${file ?? 'router config'}: ${count}:`, ...lines].join('\n');
}
