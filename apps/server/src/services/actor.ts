/** Who is acting: always taken from the authenticated session, never from a request body. */
import { AppError } from '@coconutpay/core/errors';
import type { Role } from '../db/schema.js';

export interface Actor {
  userId: string;
  role: Role;
  sessionId: string;
  /**
   * Set for a session opened by certificate login: the certificate it is bound to. Such a
   * session pays only with that certificate or the account's master.
   */
  certificateId?: string;
}

/** Throws ROLE_FORBIDDEN unless the actor has one of `roles`. */
export function requireRole(actor: Actor, ...roles: Role[]): void {
  if (!roles.includes(actor.role)) throw new AppError('ROLE_FORBIDDEN');
}
