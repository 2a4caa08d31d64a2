/** Registration, login, logout, profile and password change. */
import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { wonToNumber } from '@coconutpay/core/money';
import { sha256HexOfText, signServerAssertion } from '@coconutpay/core/protocol';
import type { AccountsService, RegistrationInput } from '../../services/accounts.js';
import type { CertificatePossession } from '../../services/certificate-possession.js';
import type { RoleIdentity } from '../../services/pki/server-roles.js';
import { actorOf } from '../authenticate.js';
import { userJson } from '../mappers.js';
import { ChangePasswordBody, LoginBody, LoginChallengeBody, LoginChallengeResponse, LoginResponse, MeResponse, RegisterBody, User, responses } from '../schemas.js';

export function authRoutes(app: FastifyInstance, accounts: AccountsService, possession: CertificatePossession, authServer: RoleIdentity, clock: () => number): void {
  app.post<{ Body: Static<typeof RegisterBody> }>(
    '/api/auth/register',
    { config: { rateLimitPolicy: 'registration' }, schema: { tags: ['accounts'], summary: 'Register a buyer or a seller', body: RegisterBody, response: responses({ 201: Type.Object({ user: Type.Ref(User) }) }) } },
    async (request, reply) => {
      const user = await accounts.register(request.body as RegistrationInput);
      return reply.code(201).send({ user: userJson(user) });
    },
  );

  app.post<{ Body: Static<typeof LoginBody> }>(
    '/api/auth/login',
    {
      config: { rateLimitPolicy: 'login' },
      schema: {
        tags: ['accounts'],
        summary: "Log in: returns the public and the secret token. A certificate proof lets a locked account's own device in",
        body: LoginBody, response: responses({ 200: LoginResponse }),
      },
    },
    async (request) => {
      const result = await accounts.login(request.body.loginId, request.body.password, request.ip, request.body.certificateProof);
      const serverAssertion = await signServerAssertion(
        {
          v: 1, type: 'coconutpay-server-assertion', clientNonce: request.body.clientNonce ?? null, sessionId: result.sessionId, userId: result.user.id,
          publicTokenSha256: await sha256HexOfText(result.publicToken), issuedAtMs: clock(),
        },
        authServer.privateKey,
        authServer.x5c,
      );
      return { ...result, user: userJson(result.user), serverAssertion };
    },
  );

  app.post<{ Body: Static<typeof LoginChallengeBody> }>(
    '/api/auth/login-challenges',
    {
      config: { rateLimitPolicy: 'login' },
      schema: {
        tags: ['accounts'],
        summary: 'A single-use challenge for this login id, valid two minutes: a device signs it with a certificate key to pass the login lock',
        body: LoginChallengeBody, response: responses({ 201: LoginChallengeResponse }),
      },
    },
    async (request, reply) => reply.code(201).send(await possession.issueChallenge(request.body.loginId)),
  );

  app.post(
    '/api/auth/logout',
    { preValidation: app.authenticate, schema: { tags: ['accounts'], summary: 'End this session on the server', response: responses({ 204: Type.Null() }) } },
    async (request, reply) => {
      await accounts.logout(actorOf(request));
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/me',
    { preValidation: app.authenticate, schema: { tags: ['accounts'], summary: 'My profile and wallet balance', response: responses({ 200: MeResponse }) } },
    async (request) => {
      const { user, walletBalanceWon } = await accounts.profile(actorOf(request));
      return { user: userJson(user), walletBalanceWon: walletBalanceWon === null ? null : wonToNumber(walletBalanceWon) };
    },
  );

  app.post<{ Body: Static<typeof ChangePasswordBody> }>(
    '/api/me/password',
    {
      preValidation: app.authenticate,
      schema: { tags: ['accounts'], summary: 'Change my password; ends my other sessions', body: ChangePasswordBody, response: responses({ 204: Type.Null() }) },
    },
    async (request, reply) => {
      await accounts.changePassword(actorOf(request), request.body.currentPassword, request.body.newPassword);
      return reply.code(204).send();
    },
  );
}
