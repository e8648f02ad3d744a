// `kskup delete`: stops the site's process and removes its state.
import type { Command } from 'commander';
import { deleteLocalSite } from '../../site-controller/local/local-site.js';
import type { CommandContext } from '../command-context.js';
import { render } from '../output.js';
import { addSiteOptions, resolveSite, type SiteOptions } from './site-options.js';

export function addDeleteCommand(program: Command, context: CommandContext): void {
  addSiteOptions(
    program
      .command('delete')
      .description('stop the site and remove its state: its CA, links, tokens and services')
      .addHelpText('after', '\nExample:\n  kskup delete -n west'),
  ).action(async (options: SiteOptions) => {
    const target = resolveSite(options, context);
    const document = await target.folder.read();
    const { stopped } = await deleteLocalSite(target.folder);
    const data = { deleted: document.site.name, namespace: target.namespace, processStopped: stopped, state: target.folder.path };
    context.io.stdout.write(
      render(options.output, data, () => `Site "${document.site.name}" deleted (${stopped ? 'process stopped, ' : ''}state removed from ${target.folder.path}).\n`),
    );
  });
}
