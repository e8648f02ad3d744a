// `kskup console` on three local sites, west - middle - east (west and east
// each link to middle), the console served by the real binary for middle.
// Over plain HTTP: no password or a wrong one gets 401 and no data, the right
// one the snapshot, and the event stream delivers it. In Debian's chromium,
// driven by playwright-core: the graph shows 3 sites and 2 links, a service
// with traffic shows its bytes growing, each link's rate rises above 1 MB/s
// while a stream runs and falls back after, every site's listener of a
// service is listed, the keyboard reaches every site's detail (through the
// site list and through the graph), a flow to a dead target shows as an
// error, what site policies block shows in the services view and each site's
// detail, a deleted link turns its edge down within 5 s, and a link another
// site holds shows why it is down.
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { httpGet, withAuthorization, type HttpReply } from './helpers/http-get.js';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useKskupHome } from './helpers/kskup-cli.js';
import { freePort, waitFor } from './helpers/router-process.js';
import { connect, openAndWatchEnd, startEchoServer, type TestServer } from './helpers/tcp-tools.js';
import { writeFile } from 'node:fs/promises';
import { ManagementClient } from '../router/management/management-client.js';
import { localRouterTarget } from '../cli/site/site-status.js';

const CLI = resolve(import.meta.dirname, '../dist/cli/main.js');
const home = useKskupHome('console', { KSKUP_SYNC_HEARTBEAT_MS: '500' });
let echo: TestServer;
let consoleProcess: ChildProcess;
let consoleUrl: string;
let password: string;
let consoleOutput = '';
let browser: Browser | undefined;

function get(path: string, authorization?: string): Promise<HttpReply> {
  return httpGet(new URL(path, consoleUrl), withAuthorization(authorization));
}

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

const westPort = async (address: string) =>
  waitFor(`${address} listening at west`, async () => {
    const { services } = await home.json<{ services: { address: string; listeners: { port: number }[] }[] }>('service', 'status', '-n', 'west');
    return services.find((s) => s.address === address)?.listeners[0]?.port;
  }, 20_000);

/** Sends `bytes` through west's listener of web and waits for every byte back (the echo). */
async function echoThrough(port: number, bytes: number): Promise<void> {
  const socket = await connect(port);
  await new Promise<void>((done, fail) => {
    let back = 0;
    socket.on('data', (chunk: Buffer) => {
      back += chunk.length;
      if (back >= bytes) {
        socket.end();
        done();
      }
    });
    socket.on('error', fail);
    socket.write(Buffer.alloc(bytes, 5));
  });
}

/**
 * Streams through `port` (an echo behind it) as fast as it goes, reading the
 * echo back, until stopped; resolves with the bytes sent, after checking that
 * every byte came back as sent.
 */
function streamThrough(port: number): { stop: () => Promise<number> } {
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
  let stopping = false;
  const done = connect(port).then(
    (socket) =>
      new Promise<number>((resolveSent, fail) => {
        let sent = 0;
        let back = 0;
        let mismatch = false;
        socket.on('data', (data: Buffer) => {
          for (let i = 0; i < data.length && !mismatch; i++) if (data[i] !== (back + i) % chunk.length % 251) mismatch = true;
          back += data.length;
          if (stopping && back === sent) socket.end();
        });
        socket.on('error', fail);
        socket.on('close', () => (mismatch ? fail(new Error(`echo differs from what was sent, within the first ${back} bytes`)) : back === sent ? resolveSent(sent) : fail(new Error(`sent ${sent}, back ${back}`))));
        const pump = () => {
          while (!stopping) {
            sent += chunk.length;
            if (!socket.write(chunk)) return void socket.once('drain', pump);
          }
          if (back === sent) socket.end();
        };
        pump();
      }),
  );
  return {
    stop: () => {
      stopping = true;
      return done;
    },
  };
}

/** The detail shown in the Site section: its title and its facts (dt -> dd). */
async function shownDetail(page: Page): Promise<{ title: string; facts: Record<string, string> }> {
  return page.evaluate(() => {
    const facts: Record<string, string> = {};
    for (const dt of document.querySelectorAll('#site-detail dt')) facts[dt.textContent ?? ''] = dt.nextElementSibling?.textContent ?? '';
    return { title: document.getElementById('site-title')?.textContent ?? '', facts };
  });
}

/** Presses Tab until `focused` holds in the page (at most 60 times); fails if it never does. */
async function tabUntil(page: Page, what: string, focused: () => boolean): Promise<number> {
  for (let presses = 1; presses <= 60; presses++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(focused)) return presses;
  }
  throw new Error(`Tab never reached ${what}`);
}

beforeAll(async () => {
  echo = await startEchoServer();
  for (const site of ['west', 'middle', 'east']) await home.ok('init', '-n', site);
  for (const site of ['west', 'east']) {
    const token = `${home.path}/middle-for-${site}.token`;
    await home.ok('token', 'create', token, '-n', 'middle');
    await home.ok('link', 'create', token, '--name', 'to-middle', '-n', site);
    await home.ok('link', 'status', '-n', site, '--wait', '10');
  }
  await home.ok('expose', 'host/127.0.0.1', '--port', String(echo.port), '--address', 'web', '-n', 'east');
  await home.ok('expose', 'host/127.0.0.1', '--port', String(await freePort()), '--target-port', String(await freePort()), '--address', 'dead', '-n', 'east');

  consoleProcess = spawn(process.execPath, [CLI, 'console', '-n', 'middle', '--port', '0'], { env: { ...process.env, ...home.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  consoleProcess.stdout!.setEncoding('utf8').on('data', (text: string) => (consoleOutput += text));
  consoleProcess.stderr!.setEncoding('utf8').on('data', (text: string) => (consoleOutput += text));
  const printed = await waitFor('the console URL and password', () => {
    const url = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(consoleOutput)?.[1];
    const secret = /^Password: (\S+)$/m.exec(consoleOutput)?.[1];
    return url && secret ? { url, secret } : undefined;
  }, 20_000);
  consoleUrl = printed.url;
  password = printed.secret;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (consoleProcess && consoleProcess.exitCode === null) {
    const exited = new Promise<number | null>((done) => consoleProcess.once('exit', done));
    consoleProcess.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
  await echo?.close();
});

describe('kskup console over HTTP', () => {
  it('refuses a request without the password, or with a wrong one, and serves the snapshot with it', async () => {
    for (const path of ['/', '/api/snapshot', '/api/events', '/index.html']) {
      const none = await get(path);
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Basic realm="kskup console"/);
      expect(none.body).not.toContain('middle');
      expect((await get(path, basic('admin', `${password}x`))).status).toBe(401);
      expect((await get(path, basic('root', password))).status).toBe(401);
    }
    const good = await get('/api/snapshot', basic('admin', password));
    expect(good.status).toBe(200);
    expect(good.headers['content-type']).toBe('application/json');
    const state = JSON.parse(good.body) as { snapshot: { site: { name: string }; sites: { name: string }[] } };
    expect(state.snapshot.site.name).toBe('middle');
    const page = await get('/', basic('admin', password));
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>kskup console</title>');
    expect((await get('/../../package.json', basic('admin', password))).status).toBe(404);
    // The password is printed once, on stdout, and nowhere else.
    expect(consoleOutput.split(password).length - 1).toBe(1);
  });

  it('streams snapshots as server-sent events', async () => {
    const events = await new Promise<string>((done, fail) => {
      const outgoing = request(new URL('/api/events', consoleUrl), { headers: { authorization: basic('admin', password) } }, (response) => {
        expect(response.headers['content-type']).toBe('text/event-stream');
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
          if (/^event: snapshot\ndata: .*"middle".*\n\n/m.test(text)) {
            outgoing.destroy();
            done(text);
          }
        });
      });
      outgoing.on('error', fail);
      outgoing.end();
    });
    const data = /^data: (.*)$/m.exec(events)?.[1] ?? '';
    expect((JSON.parse(data) as { snapshot: { site: { name: string } } }).snapshot.site.name).toBe('middle');
  });

  it('refuses a non-loopback --address (exit 2) and listens on nothing', async () => {
    const result = await home.kskup('console', '-n', 'middle', '--address', '0.0.0.0');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--address: "0\.0\.0\.0" is not a loopback address/);
    expect(result.stdout).not.toMatch(/Password/);
  });
});

describe('kskup console in a browser (chromium)', () => {
  let page: Page;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    const context = await browser.newContext({ httpCredentials: { username: 'admin', password }, viewport: { width: 1280, height: 1400 } });
    page = await context.newPage();
    await page.goto(consoleUrl);
  }, 60_000);

  it('draws 3 sites and 2 links up, and lists them in the table view', async () => {
    const graph = page.locator('#graph');
    await expect.poll(async () => [await graph.getAttribute('data-sites'), await graph.getAttribute('data-links-up'), await graph.getAttribute('data-links-down')], { timeout: 20_000 }).toEqual(['3', '2', '0']);
    await expect.poll(async () => (await page.locator('#sites-table tbody tr').allTextContents()).length).toBe(3);
    expect(await page.locator('#links-table tbody tr').count()).toBe(2);
    expect(await graph.getAttribute('aria-label')).toMatch(/3 sites, 2 links up, 0 down/);
  });

  it('shows the bytes of a service with traffic growing', async () => {
    const port = await westPort('web');
    const row = page.locator('#services-table tbody tr', { hasText: 'web' });
    const bytes = async () => Number(await row.locator('td.bytes-to-targets').textContent());
    await echoThrough(port, 10_000);
    await expect.poll(bytes, { timeout: 10_000 }).toBeGreaterThanOrEqual(10_000);
    const before = await bytes();
    await echoThrough(port, 20_000);
    await expect.poll(bytes, { timeout: 10_000 }).toBeGreaterThanOrEqual(before + 20_000);
  });

  it('shows each link\'s traffic rate: low when idle, above 1 MB/s on both links while a stream runs west -> middle -> east', async () => {
    const port = await westPort('web');
    const rates = async () =>
      page.evaluate(() =>
        [...document.querySelectorAll<HTMLTableRowElement>('#links-table tbody tr')].map((tr) => ({
          text: tr.textContent ?? '',
          rate: Number(tr.querySelector<HTMLElement>('td.rate')?.dataset.bytesPerSecond ?? -1),
        })),
      );
    // Idle: hellos, announcements and the console's own flow queries only.
    await expect.poll(async () => (await rates()).every((r) => r.rate >= 0), { timeout: 10_000 }).toBe(true);
    const idle = Math.max(...(await rates()).map((r) => r.rate));
    expect(idle).toBeLessThan(200_000);
    const stream = streamThrough(port);
    try {
      await expect.poll(async () => (await rates()).filter((r) => r.rate > 1_000_000).length, { timeout: 20_000, interval: 250 }).toBe(2);
      const edgeLabels = await page.evaluate(() => document.getElementById('graph')?.dataset.edgeRates ?? '');
      expect(edgeLabels).toMatch(/MB\/s.*MB\/s/s);
      // docs/console.png is made with KSKUP_CONSOLE_SCREENSHOT=docs/console.png; a plain run leaves the tree alone.
      await page.screenshot({ path: process.env.KSKUP_CONSOLE_SCREENSHOT ?? `${home.path}/console.png`, fullPage: true });
    } finally {
      expect(await stream.stop()).toBeGreaterThan(1_000_000);
    }
    await expect.poll(async () => Math.max(...(await rates()).map((r) => r.rate)), { timeout: 10_000 }).toBeLessThan(200_000);
  });

  it('lists each service\'s listener at every site, as the sites announce them', async () => {
    const port = await westPort('web');
    const listeners = page.locator('#services-table tbody tr', { hasText: 'web' }).locator('td.listeners');
    await expect.poll(() => listeners.textContent(), { timeout: 10_000 }).toContain(`west: 127.0.0.1:${port} for ${echo.port}`);
    const text = (await listeners.textContent()) ?? '';
    for (const site of ['middle', 'east']) expect(text).toMatch(new RegExp(`${site}: 127\\.0\\.0\\.1:\\d+ for ${echo.port}`));
  });

  it('keyboard: Tab reaches the site list and Enter opens another site\'s detail, with its version, routers and links', async () => {
    // From the skip link's target, as a keyboard user arrives.
    await page.evaluate(() => document.getElementById('main')?.focus());
    await tabUntil(page, 'the button of site east', () => document.activeElement?.textContent === 'east' && document.activeElement.tagName === 'BUTTON');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await shownDetail(page)).title).toBe('Site east');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('site-title');
    const { facts } = await shownDetail(page);
    expect(facts['kskup version']).toMatch(/^\d+\.\d+\.\d+/);
    expect(facts.Platform).toBe('local');
    await expect.poll(async () => (await page.locator('#routers-table tbody tr').allTextContents()).join('|'), { timeout: 10_000 }).toMatch(/answered\d+\.\d+\.\d+/);
    await expect.poll(() => page.locator('#own-links-table tbody tr').allTextContents()).toEqual(['middleup1']);
  });

  it('keyboard: Tab into the graph, arrow keys move between sites, Enter opens one\'s detail', async () => {
    await page.evaluate(() => document.getElementById('main')?.focus());
    await tabUntil(page, 'the graph', () => document.activeElement?.id === 'graph');
    // Sites in name order: east, middle, west. Focus starts on the first.
    await expect.poll(() => page.locator('#graph-focus').textContent()).toMatch(/^Site 1 of 3: east/);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    expect(await page.locator('#graph-focus').textContent()).toMatch(/^Site 3 of 3: west, local, interior, 1 link\. Enter opens its detail\./);
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await shownDetail(page)).title).toBe('Site west');
    await page.evaluate(() => document.getElementById('main')?.focus());
    await tabUntil(page, 'the graph again', () => document.activeElement?.id === 'graph');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press(' ');
    await expect.poll(async () => (await shownDetail(page)).title).toBe('Site middle (this site)');
  });

  it('shows a flow to a dead target as an error', async () => {
    const port = await westPort('dead');
    expect((await openAndWatchEnd(port).ended).code).toBe('ECONNRESET');
    const failed = page.locator('#flows-table tbody tr.error', { hasText: 'dead' });
    await expect.poll(() => failed.count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    expect(await failed.first().locator('td.outcome').textContent()).toMatch(/^error: (refused|reset-by-server|unreachable)/);
    await page.check('#filter-errors');
    const shown = await page.locator('#flows-table tbody tr').allTextContents();
    expect(shown.length).toBeGreaterThanOrEqual(1);
    for (const text of shown) expect(text).toMatch(/dead.*error:/);
  });

  it('shows what policies block: middle may not reach web (east\'s serviceAccess) nor imports dead (its own policy), and the flows east refused from a listener made by hand at middle', async () => {
    const policy = async (site: string, body: string) => {
      const file = `${home.path}/${site}-policy.yaml`;
      await writeFile(file, `apiVersion: kskup.io/v1alpha1\nkind: SitePolicy\n${body}`);
      await home.ok('policy', 'set', file, '-n', site);
    };
    await policy('east', 'serviceAccess:\n  - service: web\n    sites: [west]\n');
    await policy('middle', 'importedServices: [web]\n');
    const middle = home.folder('middle');
    const client = await ManagementClient.connect(await localRouterTarget(middle, await middle.read()), { timeoutMs: 5_000 });
    try {
      const why = 'not allowed by site "east"\'s policy (serviceAccess allows west)';
      const web = page.locator('#services-table tbody tr', { hasText: /^web/ });
      await expect.poll(() => web.locator('td.policy').textContent(), { timeout: 15_000 }).toBe(`at east: only west may reach it; no listener here: ${why}`);
      expect(await web.locator('td.listeners').textContent()).toContain(`middle: 127.0.0.1:`);
      expect(await web.locator('td.listeners').textContent()).toContain(`NOT LISTENING: ${why}`);
      const dead = page.locator('#services-table tbody tr', { hasText: /^dead/ });
      await expect.poll(() => dead.locator('td.policy').textContent(), { timeout: 10_000 }).toBe('not imported here: policy: service "dead" matches no pattern of importedServices (web)');
      await expect.poll(() => dead.locator('td.listeners').textContent(), { timeout: 10_000 }).toMatch(/^middle: 127\.0\.0\.1:\d+ for \d+ NOT LISTENING: not imported: policy: service "dead" matches no pattern of importedServices \(web\);/);

      // A listener middle's router gets by hand (not from its controller): east refuses its flows, and the console counts them.
      const port = await freePort();
      await client.create('tcpListener', 'by-hand', { address: `web:${echo.port}`, host: '127.0.0.1', port });
      await waitFor('the hand-made listener to be refused at east', async () => ((await openAndWatchEnd(port).ended).code === 'ECONNRESET' ? true : undefined), 10_000);
      await expect.poll(() => web.locator('td.policy').textContent(), { timeout: 10_000 }).toMatch(/; 1 flow\(s\) from middle refused at east$/);

      await page.locator('#sites-table button', { hasText: 'middle (this site)' }).click();
      const blocked = () => page.locator('#blocked-table tbody tr').allTextContents();
      await expect.poll(blocked, { timeout: 10_000 }).toEqual([
        'importservice "dead"policy: service "dead" matches no pattern of importedServices (web)',
        `accessservice "web"${why}`,
        `flows refusedweb:${echo.port} from middle at east1 flow(s) refused by site east's policy (serviceAccess)`,
      ]);
      await page.locator('#sites-table button', { hasText: /^east$/ }).click();
      await expect.poll(blocked, { timeout: 10_000 }).toEqual([`flows refusedweb:${echo.port} from middle at east1 flow(s) refused by site east's policy (serviceAccess)`]);
      await page.screenshot({ path: process.env.KSKUP_CONSOLE_POLICY_SCREENSHOT ?? `${home.path}/console-policy.png`, fullPage: true });
    } finally {
      await client.delete('tcpListener', 'by-hand').catch(() => undefined);
      await client.close();
      for (const site of ['east', 'middle']) await home.ok('policy', 'delete', '-n', site);
    }
    await page.locator('#sites-table button', { hasText: 'middle (this site)' }).click();
    await expect.poll(() => page.locator('#blocked-table tbody tr').allTextContents(), { timeout: 10_000 }).toEqual([
      `flows refusedweb:${echo.port} from middle at east1 flow(s) refused by site east's policy (serviceAccess)`,
    ]);
    await expect.poll(() => page.locator('#services-table tbody tr', { hasText: /^web/ }).locator('td.listeners').textContent(), { timeout: 10_000 }).not.toContain('NOT LISTENING');
  });

  it('turns a deleted link to down within 5 s', async () => {
    await home.ok('link', 'delete', 'to-middle', '-n', 'west');
    const deleted = Date.now();
    const graph = page.locator('#graph');
    await expect.poll(async () => [await graph.getAttribute('data-links-up'), await graph.getAttribute('data-links-down')], { timeout: 5_000, interval: 100 }).toEqual(['1', '1']);
    expect(Date.now() - deleted).toBeLessThan(5_000);
    await expect.poll(() => page.locator('#links-table tbody tr.error', { hasText: 'west' }).count()).toBe(1);
  });

  it('shows why another site\'s link is down: east\'s link to west, its certificate revoked by west', async () => {
    const token = `${home.path}/west-for-east.token`;
    await home.ok('token', 'create', token, '-n', 'west');
    await home.ok('link', 'create', token, '--name', 'to-west', '-n', 'east');
    await home.ok('link', 'status', '-n', 'east', '--wait', '10');
    await page.locator('#sites-table button', { hasText: /^east$/ }).click();
    const toWest = page.locator('#own-links-table tbody tr', { hasText: 'west' });
    await expect.poll(() => toWest.allTextContents(), { timeout: 10_000 }).toEqual(['westup1']);
    await home.ok('revoke-access', '-n', 'west', '--site', 'east');
    await expect.poll(() => toWest.locator('td.reason').textContent(), { timeout: 15_000 }).toMatch(/revoked/);
    expect(await toWest.getAttribute('class')).toBe('error');
    expect(await toWest.locator('td').nth(1).textContent()).toBe('down');
  });
});
