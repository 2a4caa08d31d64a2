/**
 * Certificate login (docs/protocol.md, "Certificate login"): S's signed key agreement key,
 * messages (1) → (2) and (3) → (4), and enabling the login for a certificate.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { sha256HexOfText, signServerAssertion } from '@coconutpay/core/protocol';
import type { CertificateLoginService } from '../../services/certificate-login.js';
import type { RoleIdentity } from '../../services/pki/server-roles.js';
import { actorOf } from '../authenticate.js';
import { userJson } from '../mappers.js';
import { IdParams, LoginResponse, responses } from '../schemas.js';

const B64u = (max: number) => Type.String({ pattern: '^[A-Za-z0-9_-]+$', minLength: 1, maxLength: max });
const ServerKey = Type.Object({
  agreementKey: Type.Object({ kty: Type.Literal('EC'), crv: Type.Literal('P-256'), x: Type.String(), y: Type.String() }),
  agreementKeyJws: Type.String({ description: "S's JWS (x5c to our root, purpose session) over the agreement key" }),
});
const HelloBody = Type.Object(
  { sealedHello: Type.String({ pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]*){4}$', minLength: 50, maxLength: 8_192, description: 'message (1): JWE to S of the certificate-signed hello' }) },
  { additionalProperties: false },
);
const HelloResponse = Type.Object({ handshakeId: Type.String(), sealedChallenge: Type.String({ description: "message (2): JWE under the client's reply key of S's JWS" }) });
const ConfirmBody = Type.Object(
  {
    loginId: Type.String({ minLength: 1, maxLength: 64 }),
    confirm: Type.Object(
      {
        message: Type.Object(
          {
            v: Type.Literal(1), type: Type.Literal('coconutpay-login-3'), handshakeId: Type.String({ minLength: 1, maxLength: 64 }),
            clientTimeMs: Type.Integer(), nc: B64u(64), ns: B64u(64),
          },
          { additionalProperties: false },
        ),
        signature: B64u(128),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
const VerifierBody = Type.Object(
  { salt: B64u(64), iterations: Type.Integer({ minimum: 1 }), storedKey: B64u(64) },
  { additionalProperties: false },
);

export function certificateLoginRoutes(app: FastifyInstance, logins: CertificateLoginService, authServer: RoleIdentity, clock: () => number): void {
  app.get(
    '/api/auth/certificate-login/server-key',
    { schema: { tags: ['accounts'], summary: "S's key agreement key for message (1), signed by S", response: responses({ 200: ServerKey }) } },
    async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send(await logins.serverKey()),
  );

  app.post<{ Body: Static<typeof HelloBody> }>(
    '/api/auth/certificate-login/hello',
    { config: { rateLimitPolicy: 'login' }, schema: { tags: ['accounts'], summary: 'Certificate login, (1) → (2): counts toward the login lock', body: HelloBody, response: responses({ 200: HelloResponse }) } },
    async (request) => logins.hello(request.body.sealedHello, request.ip),
  );

  app.post<{ Body: Static<typeof ConfirmBody> }>(
    '/api/auth/certificate-login/confirm',
    { config: { rateLimitPolicy: 'login' }, schema: { tags: ['accounts'], summary: 'Certificate login, (3) → (4): the session, bound to the certificate', body: ConfirmBody, response: responses({ 200: LoginResponse }) } },
    async (request) => {
      const result = await logins.confirm(request.body.loginId, request.body.confirm, request.ip);
      const serverAssertion = await signServerAssertion(
        {
          v: 1, type: 'coconutpay-server-assertion', clientNonce: request.body.confirm.message.nc, sessionId: result.sessionId, userId: result.user.id,
          publicTokenSha256: await sha256HexOfText(result.publicToken), issuedAtMs: clock(),
        },
        authServer.privateKey,
        authServer.x5c,
      );
      return { ...result, user: userJson(result.user), serverAssertion };
    },
  );

  app.put<{ Params: Static<typeof IdParams>; Body: Static<typeof VerifierBody> }>(
    '/api/certificates/:id/login-verifier',
    {
      preValidation: app.authenticate,
      schema: { tags: ['certificates'], summary: "Enable certificate login for one of my certificates: the PIN verifier (salt, iterations, SCRAM StoredKey) derived in the browser from the certificate's password", params: IdParams, body: VerifierBody, response: responses({ 204: Type.Null() }) },
    },
    async (request, reply) => {
      await logins.registerVerifier(actorOf(request), request.params.id, request.body);
      return reply.code(204).send();
    },
  );
}
