// Who is still on the old CA during a CA rotation (cert-rotation.ts onOldCa):
// the rule the cut-over refuses by and status shows, table-driven over grants.
import { describe, expect, it } from 'vitest';
import { onOldCa } from '../site-controller/site/cert-rotation.js';
import type { GrantRecord } from '../site-controller/site/model.js';
import { westSiteDocument } from './helpers/site-fixtures.js';

const NOW = new Date('2030-06-01T00:00:00.000Z');
const rotation = { startedAt: '2030-05-01T00:00:00.000Z', fromCaSerial: 'aa', toCaSerial: 'bb' };
const grant = (serial: string, rest: Partial<GrantRecord>): GrantRecord => ({ serial, tokenName: `t-${serial}`, issuedAt: '2030-01-01T00:00:00.000Z', expiresAt: '2031-01-01T00:00:00.000Z', ...rest });

describe('onOldCa', () => {
  it.each([
    ['no rotation: nobody', false, [grant('1', { siteId: 'e', siteName: 'east' })], []],
    ['a site with an old-CA grant (recorded, or from before caSerial was recorded)', true, [grant('1', { siteId: 'e', siteName: 'east', caSerial: 'aa' }), grant('2', { siteId: 'n', siteName: 'north' })], ['site "east"', 'site "north"']],
    ['a site that also has a new-CA grant has moved', true, [grant('1', { siteId: 'e', siteName: 'east', caSerial: 'aa' }), grant('2', { siteId: 'e', siteName: 'east', caSerial: 'bb' })], []],
    ['revoked and expired old-CA grants count for no one', true, [grant('1', { siteId: 'e', siteName: 'east', revokedAt: '2030-02-01T00:00:00.000Z' }), grant('2', { siteId: 'n', siteName: 'north', expiresAt: '2030-05-31T00:00:00.000Z' })], []],
    ['a cert token is named by its token', true, [grant('1', { tokenName: 'cert-x', caSerial: 'aa' })], ['cert token "cert-x"']],
    ['a revoked new-CA grant does not move its site', true, [grant('1', { siteId: 'e', siteName: 'east' }), grant('2', { siteId: 'e', siteName: 'east', caSerial: 'bb', revokedAt: '2030-05-02T00:00:00.000Z' })], ['site "east"']],
  ])('%s', (_what, rotating, grants, expected) => {
    const document = westSiteDocument({}, { grants, ...(rotating && { caRotation: rotation }) });
    expect(onOldCa(document, NOW)).toEqual(expected);
  });
});
