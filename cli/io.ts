// Where a command writes. Commands take these instead of touching `process`
// so that tests can run them in-process and read what they printed.

export interface TextSink {
  write(text: string): unknown;
}

export interface CliIO {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
}
