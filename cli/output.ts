// The three output formats of site commands: text for people, JSON and YAML
// for scripts (the same data, so a script never parses text).

export type OutputFormat = 'text' | 'json' | 'yaml';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['text', 'json', 'yaml'];

/** Async so that the YAML library is loaded only for -o yaml. */
export async function render(format: OutputFormat, data: unknown, text: () => string): Promise<string> {
  switch (format) {
    case 'json':
      return `${JSON.stringify(data, null, 2)}\n`;
    case 'yaml':
      return (await import('yaml')).stringify(data);
    default:
      return text();
  }
}
