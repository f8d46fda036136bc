// The permissions of PROTOCOL.md: the seed creates exactly these, and src/hub/rbac.ts decides with them.
export const PERMISSIONS = {
  'servers.view': { category: 'servers', description: 'See every server, its status and history' },
  'servers.control': { category: 'servers', description: 'Start, stop, restart and kill any server' },
  'servers.create': { category: 'servers', description: 'Create servers and configuration templates' },
  'servers.delete': { category: 'servers', description: 'Delete servers and their history' },
  'servers.console': { category: 'servers', description: 'Read the console of any server and send it input' },
  'nodes.manage': { category: 'nodes', description: 'Add, remove and re-key nodes' },
  'users.manage': { category: 'users', description: 'Add and remove users and grant permissions' }
} as const

export type PermissionName = keyof typeof PERMISSIONS
export const PERMISSION_NAMES = Object.keys(PERMISSIONS) as PermissionName[]
