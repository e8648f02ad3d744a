// The three output formats of site commands: text for people, JSON and YAML
// for scripts (the same data, so a script never parses text).
import { stringify } from 'yaml';

export type OutputFormat = 'text' | 'json' | 'yaml';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['text', 'json', 'yaml'];

export function render(format: OutputFormat, data: unknown, text: () => string): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(data, null, 2)}\n`;
    case 'yaml':
      return stringify(data);
    default:
      return text();
  }
}
