/**
 * Dashboard roles with least privilege, as data (DESIGN.md, "Safety and security stance";
 * principle 4, rules are data with stable ids). Each role lists every permission it has;
 * a role above another is written as that role's list plus its own, so what each can do
 * reads off this file. Permission ids are stable: the HTTP layer and the audit log use them.
 *
 * These are the dashboard's people. The MQTT accounts of the site config (device, station,
 * pharmacy, …) are another namespace (model/site-schema.ts AccountRole).
 *
 * `display` is not a person but a wall screen (dashboard/src/wall-mode.ts): it may only
 * look. Nobody answers for what is done at a screen on the wall, so it cannot acknowledge,
 * and because it cannot change anything its session is spared the idle timeout that signs
 * out an unattended station (UNATTENDED_ROLES below, applied by server/sessions.ts).
 */

/** Least privileged first. */
export const USER_ROLES = ['display', 'nurse', 'biomed', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const PERMISSIONS = {
  'alerts.view': 'see the ward, devices and alerts',
  'alerts.acknowledge': 'acknowledge an alert, with a reason',
  'devices.configure': 'change the device inventory and device settings',
  'policy.configure': 'change the command policy and the drug library',
  'baseline.configure': 'review, import, accept into and freeze the learned baseline',
  'users.manage': 'add, disable and enable dashboard users, reset their MFA',
  'audit.view': 'read the audit log',
} as const;
export type Permission = keyof typeof PERMISSIONS;

const DISPLAY: readonly Permission[] = ['alerts.view'];
const NURSE: readonly Permission[] = [...DISPLAY, 'alerts.acknowledge'];
const BIOMED: readonly Permission[] = [...NURSE, 'devices.configure', 'policy.configure', 'baseline.configure'];
const ADMIN: readonly Permission[] = [...BIOMED, 'users.manage', 'audit.view'];

export const ROLE_PERMISSIONS: Readonly<Record<UserRole, ReadonlySet<Permission>>> = {
  display: new Set(DISPLAY),
  nurse: new Set(NURSE),
  biomed: new Set(BIOMED),
  admin: new Set(ADMIN),
};

/**
 * Roles whose sessions nobody attends: no idle timeout, only an absolute lifetime of their
 * own (`dashboard.displaySessionHours`). Safe only for roles that change nothing: a role
 * here must not hold any permission beyond `alerts.view` (checked by the unit tests).
 */
export const UNATTENDED_ROLES: ReadonlySet<UserRole> = new Set(['display']);

export function isUserRole(value: string): value is UserRole {
  return (USER_ROLES as readonly string[]).includes(value);
}

/** Whether `role` grants `permission`. Anything unknown (a role from a damaged row, a typo) is refused: default deny. */
export function may(role: string, permission: string): boolean {
  if (!isUserRole(role)) return false;
  return (ROLE_PERMISSIONS[role] as ReadonlySet<string>).has(permission);
}
