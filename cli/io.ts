// Where a command writes, and what it may know of its surroundings. Commands
// take these instead of touching `process` so that tests can run them
// in-process, with their own environment, and read what they printed.

export interface TextSink {
  write(text: string): unknown;
}

/** Where bytes go (an archive written to stdout): process.stdout in main.ts. */
export interface ByteSink {
  write(bytes: Uint8Array): unknown;
}

export interface CliIO {
  readonly stdout: TextSink;
  /** stdout for bytes; absent where stdout takes text only (a test's string sink). */
  readonly stdoutBytes?: ByteSink;
  readonly stderr: TextSink;
  /** Environment variables (KSKUP_HOME, KSKUP_PLATFORM, KUBECONFIG, HOME); process.env when absent. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** stderr is a terminal: progress may animate. */
  readonly interactive?: boolean;
  /** Long-running commands (`controller run`) end when this resolves: main.ts gives the first SIGTERM or SIGINT. */
  readonly stopped?: Promise<unknown>;
}
