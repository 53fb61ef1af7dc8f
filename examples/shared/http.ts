/** What the three example apps answer alike, besides caa-auth's own answers. */

/** The largest request body accepted; a login form is far smaller. Larger is 413 `invalid request`. */
export const MAX_BODY_BYTES = 16 * 1024;

/** The answer to an unknown route. */
export const NOT_FOUND = { status: 404, body: { message: 'not found' } } as const;
