// `kskup delete`: removes the site. Local: stops its process and removes its
// folder. Kubernetes: deletes the settings ConfigMap, which owns every other
// object of the site, and waits until the garbage collector has removed them.
import { type Command, Option } from 'commander';
import { parseSeconds } from '../arguments.js';
import type { CommandContext } from '../command-context.js';
import { render } from '../output.js';
import { startProgress } from '../progress.js';
import { addSiteOptions, resolveSite, type SiteOptions } from './site-options.js';

interface DeleteOptions extends SiteOptions {
  readonly timeout: number;
}

export function addDeleteCommand(program: Command, context: CommandContext): void {
  addSiteOptions(
    program
      .command('delete')
      .description('stop the site and remove its state: its CA, links, tokens and services')
      .addOption(new Option('--timeout <seconds>', 'kubernetes: how long to wait for every object of the site to be gone').argParser(parseSeconds).default(120))
      .addHelpText('after', '\nExample:\n  kskup delete -n west'),
  ).action(async (options: DeleteOptions) => {
    const target = await resolveSite(options, context);
    if (target.platform === 'kubernetes') {
      const progress = await startProgress(context.io, options.output !== 'text');
      let outcome;
      try {
        outcome = await target.site.delete(options.timeout * 1000, (step) => progress.step(step));
        progress.done(true);
      } catch (error) {
        progress.done(false);
        throw error;
      }
      const data = { deleted: outcome.name, namespace: target.namespace, platform: target.platform, goodbyeSent: outcome.goodbye };
      context.io.stdout.write(await render(options.output, data, () => `Site "${outcome.name}" deleted from namespace "${target.namespace}"; none of its objects are left.\n`));
      return;
    }
    const { folder } = target;
    const { deleteLocalSite } = await import('../../site-controller/local/local-site.js');
    const { stopped, name } = await deleteLocalSite(folder);
    const data = { deleted: name ?? target.namespace, namespace: target.namespace, processStopped: stopped, state: folder.path, ...(name === undefined && { incomplete: true }) };
    context.io.stdout.write(
      await render(options.output, data, () =>
        name === undefined
          ? `Removed the incomplete site folder ${folder.path} (kskup init was interrupted there).\n`
          : `Site "${name}" deleted (${stopped ? 'process stopped, ' : ''}state removed from ${folder.path}).\n`,
      ),
    );
  });
}
