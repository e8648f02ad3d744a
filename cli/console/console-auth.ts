// The console's one credential: a password made when `kskup console` starts,
// printed once to its stdout and kept only in this process's memory. Requests
// carry it with HTTP Basic authentication (RFC 7617), user "admin"; the
// browser asks for it once and sends it with every request, the event
// stream's included.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const CONSOLE_USER = 'admin';
/** The realm the browser shows in its login prompt. */
export const CONSOLE_REALM = 'kskup console';

/** 18 random bytes: 24 URL-safe characters, 144 bits. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

export class ConsoleAuth {
  readonly #expected: Buffer;

  constructor(password: string) {
    this.#expected = digest(`${CONSOLE_USER}:${password}`);
  }

  /**
   * Whether an Authorization header carries the user and password. The
   * comparison is of SHA-256 digests with timingSafeEqual: constant time, and
   * the same length whatever was sent, so the time taken tells nothing of the
   * password.
   */
  accepts(authorization: string | undefined): boolean {
    const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(authorization?.trim() ?? '');
    if (!match?.[1]) return false;
    return timingSafeEqual(digest(Buffer.from(match[1], 'base64').toString('utf8')), this.#expected);
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
