/** The logged-in account. */
import { authed } from './client.js';
import type { MeResponse } from './types.js';

/** The account and its wallet balance. */
export function getMe(): Promise<MeResponse> {
  return authed.get<MeResponse>('/api/me');
}

/** Changes the password; the server ends every other session of the account. */
export function changePassword(currentPassword: string, newPassword: string): Promise<void> {
  return authed.post<void>('/api/me/password', { currentPassword, newPassword });
}
