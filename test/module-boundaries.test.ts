// Module boundaries, checked by scanning imports: the router owns the data
// plane and must run without the controllers or the CLI, router/config must
// stay importable on its own by anything (controllers build configs), and the
// service controller depends on the site controller, never the other way.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

function sourceFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

function resolvedRelativeImports(file: string): string[] {
  return importsOf(file)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => relative(root, resolve(join(file, '..'), spec)));
}

/** Imports from files under `folder` that leave it for a path matching `forbidden`. */
function importsLeaving(folder: string, forbidden: (target: string) => boolean): string[] {
  return sourceFiles(join(root, folder)).flatMap((file) =>
    resolvedRelativeImports(file)
      .filter(forbidden)
      .map((target) => `${relative(root, file)} -> ${target}`),
  );
}

describe('module boundaries', () => {
  it('nothing under router/ imports the controllers or the CLI', () => {
    expect(importsLeaving('router', (target) => /^(cli|site-controller|service-controller)\//.test(target))).toEqual([]);
  });

  it('the controllers do not import the CLI: the CLI is one client of theirs', () => {
    expect(importsLeaving('site-controller', (target) => /^cli\//.test(target))).toEqual([]);
    expect(importsLeaving('service-controller', (target) => /^cli\//.test(target))).toEqual([]);
  });

  it('what both platforms share (site model, tokens, services, sync) depends on no platform', () => {
    for (const folder of ['site-controller/site', 'site-controller/token', 'service-controller']) {
      expect(importsLeaving(folder, (target) => /^(cli|site-controller\/local)\//.test(target))).toEqual([]);
    }
  });

  it('the dependency runs one way: site-controller/ (what a site is) never imports service-controller/ (what a service is)', () => {
    // The site loop drives the services through SiteServices, which it defines; each platform's entry composes the two (service-controller/compose.ts).
    expect(importsLeaving('site-controller', (target) => /^service-controller\//.test(target))).toEqual([]);
  });

  it('each platform stands alone: local and kubernetes do not import each other', () => {
    expect(importsLeaving('site-controller/local', (target) => /^site-controller\/kubernetes\//.test(target))).toEqual([]);
    expect(importsLeaving('site-controller/kubernetes', (target) => /^(cli|site-controller\/local)\//.test(target))).toEqual([]);
  });

  it.each(['router/config', 'router/routing', 'site-controller/pki'])('%s imports nothing else of the project', (folder) => {
    expect(importsLeaving(folder, (target) => !target.startsWith(`${folder}/`))).toEqual([]);
  });
});
