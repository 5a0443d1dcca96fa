/** The device page's address, `#device/<id>`, reached from a ward tile and from an alert's evidence page. */

/** Device ids as the site config allows them (agent/src/model/site-schema.ts `identifier`). */
const DEVICE_HASH = /^#device\/([A-Za-z0-9][A-Za-z0-9._-]{0,63})$/;

/** The device id of a `#device/<id>` address, or null. */
export function devicePageOf(hash: string): string | null {
  return DEVICE_HASH.exec(hash)?.[1] ?? null;
}

export function deviceHref(deviceId: string): string {
  return `#device/${encodeURIComponent(deviceId)}`;
}
