// Member roles as member keys spell them. Patroni before 3.0 wrote `master` for a primary; keys
// of such members (and operators' habits) still say it, so every reader accepts both.

/** `primary` for Patroni's older `master`; any other role as given. */
export function normalRole(role: string): string {
  return role === 'master' ? 'primary' : role;
}

/** The role names a primary: `primary`, or `master` as older Patroni versions wrote it. */
export function isPrimaryRole(role: unknown): boolean {
  return role === 'primary' || role === 'master';
}
