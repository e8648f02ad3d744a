// `kskup delete`: stops the site's process and removes its state.
import type { Command } from 'commander';
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
    const { deleteLocalSite } = await import('../../site-controller/local/local-site.js');
    const { stopped, name } = await deleteLocalSite(target.folder);
    const data = { deleted: name ?? target.namespace, namespace: target.namespace, processStopped: stopped, state: target.folder.path, ...(name === undefined && { incomplete: true }) };
    context.io.stdout.write(
      await render(options.output, data, () =>
        name === undefined
          ? `Removed the incomplete site folder ${target.folder.path} (kskup init was interrupted there).\n`
          : `Site "${name}" deleted (${stopped ? 'process stopped, ' : ''}state removed from ${target.folder.path}).\n`,
      ),
    );
  });
}
