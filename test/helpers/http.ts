// HTTP test helpers for the http-server stack against kernel clients (test/tcp/).
import { createHash } from 'node:crypto';
import { httpBody } from '../../bench/_http.js';

export { parseWrk, type WrkResult } from '../../bench/_http.js';

/** The server's body for `n` bytes: "Hello, msh!\r\n" then a-z repeating. */
export const expectedBody = httpBody;

export const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
