// Role-based access control: the one place that decides who may do what. Pure functions
// over a Principal, so the REST routes and (later) the live gateways ask the same questions.

import { PERMISSION_NAMES, type PermissionName } from '../db/permissions.ts'

export { PERMISSION_NAMES, type PermissionName }

export interface Principal {
  userId: string
  role: 'ADMIN' | 'USER'
  /** Permissions granted to the user; an ADMIN holds all of them regardless. */
  permissions: ReadonlySet<string>
}

export function can (principal: Principal, permission: PermissionName): boolean {
  return principal.role === 'ADMIN' || principal.permissions.has(permission)
}

export const isAdmin = (principal: Principal): boolean => principal.role === 'ADMIN'

/** The permission names a principal effectively holds. */
export function effectivePermissions (principal: Principal): PermissionName[] {
  return PERMISSION_NAMES.filter(p => can(principal, p))
}

/** Owners may view their own servers; `servers.view` and admins see all. */
export function canViewServer (principal: Principal, server: { ownerId: string }): boolean {
  return server.ownerId === principal.userId || can(principal, 'servers.view')
}

/** Owners may control their own servers; `servers.control` and admins control all. */
export function canControlServer (principal: Principal, server: { ownerId: string }): boolean {
  return server.ownerId === principal.userId || can(principal, 'servers.control')
}
