// Sign-in with the Cognito user pool, from the browser: USER_PASSWORD_AUTH over Cognito's JSON API, the
// SOFTWARE_TOKEN_MFA challenge (admins have an authenticator app), REFRESH_TOKEN_AUTH a minute before the ID token
// expires, and sign-out (RevokeToken). The tokens live in this module's memory only: never in localStorage or a
// cookie, so a reload signs out and no other script of the origin can read them from storage.

let config = null;
let session = null; // {idToken, refreshToken, claims, username}
let refreshTimer = null;
const listeners = new Set();

export class AuthError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

const MESSAGES = {
  NotAuthorizedException: 'Tên đăng nhập hoặc mật khẩu không đúng.',
  UserNotFoundException: 'Tên đăng nhập hoặc mật khẩu không đúng.',
  CodeMismatchException: 'Mã xác thực không đúng. Vui lòng nhập mã mới trong ứng dụng xác thực.',
  ExpiredCodeException: 'Mã xác thực đã hết hạn. Vui lòng đăng nhập lại.',
  PasswordResetRequiredException: 'Tài khoản cần đặt lại mật khẩu. Vui lòng liên hệ quản trị.',
  UserNotConfirmedException: 'Tài khoản chưa được kích hoạt.',
  TooManyRequestsException: 'Quá nhiều lần thử. Vui lòng thử lại sau ít phút.',
  LimitExceededException: 'Quá nhiều lần thử. Vui lòng thử lại sau ít phút.',
};

export function configure(cfg) { config = cfg; }
export function onChange(listener) { listeners.add(listener); }
export function current() { return session; }
export function idToken() { return session ? session.idToken : null; }

async function cognito(operation, body) {
  let response;
  try {
    response = await fetch(config.cognito.endpoint, {
      method: 'POST', body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': `AWSCognitoIdentityProviderService.${operation}` },
    });
  } catch {
    throw new AuthError('network_error', 'Không kết nối được tới dịch vụ đăng nhập.');
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const type = String(data.__type || '').split('#').pop();
    throw new AuthError(type || `http_${response.status}`, MESSAGES[type] || data.message || 'Đăng nhập không thành công.');
  }
  return data;
}

function claimsOf(token) {
  const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  const json = decodeURIComponent([...atob(part)].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''));
  return JSON.parse(json);
}

function accept(result, username, refreshToken) {
  const idTokenValue = result.IdToken;
  const claims = claimsOf(idTokenValue);
  session = {
    idToken: idTokenValue, refreshToken: result.RefreshToken || refreshToken, claims,
    username: claims['cognito:username'] || username,
    organId: claims['custom:organ_id'] || '',
    admin: (claims['cognito:groups'] || []).includes('admins'),
  };
  clearTimeout(refreshTimer);
  const wait = Math.max(5, claims.exp - 60 - Date.now() / 1000) * 1000; // a minute before expiry
  refreshTimer = setTimeout(() => refresh().catch(() => signOut()), wait);
  listeners.forEach((l) => l(session));
  return session;
}

/** `{session}` when signed in, `{challenge, next(code)}` when the account asks for its authenticator's code. */
export async function signIn(username, password) {
  const data = await cognito('InitiateAuth', {
    AuthFlow: 'USER_PASSWORD_AUTH', ClientId: config.cognito.client_id,
    AuthParameters: { USERNAME: username, PASSWORD: password },
  });
  if (data.AuthenticationResult) return { session: accept(data.AuthenticationResult, username) };
  if (data.ChallengeName === 'SOFTWARE_TOKEN_MFA') {
    let challengeSession = data.Session;
    return {
      challenge: 'SOFTWARE_TOKEN_MFA',
      async next(code) {
        const answer = await cognito('RespondToAuthChallenge', {
          ChallengeName: 'SOFTWARE_TOKEN_MFA', ClientId: config.cognito.client_id, Session: challengeSession,
          ChallengeResponses: { USERNAME: username, SOFTWARE_TOKEN_MFA_CODE: code },
        });
        if (answer.Session) challengeSession = answer.Session;
        if (!answer.AuthenticationResult) throw new AuthError('unexpected_challenge', 'Đăng nhập cần thêm bước chưa được hỗ trợ.');
        return accept(answer.AuthenticationResult, username);
      },
    };
  }
  throw new AuthError('unsupported_challenge', `Đăng nhập cần bước chưa được hỗ trợ (${data.ChallengeName}).`);
}

/** A fresh ID token from the refresh token (the API answers 401 `token_expired` to an old one). */
export async function refresh() {
  if (!session) throw new AuthError('signed_out', 'Phiên đăng nhập đã kết thúc.');
  const { refreshToken, username } = session;
  const data = await cognito('InitiateAuth', {
    AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: config.cognito.client_id, AuthParameters: { REFRESH_TOKEN: refreshToken },
  });
  return accept(data.AuthenticationResult, username, refreshToken);
}

export async function signOut() {
  const ending = session;
  session = null;
  clearTimeout(refreshTimer);
  listeners.forEach((l) => l(null));
  if (ending && ending.refreshToken) {
    await cognito('RevokeToken', { ClientId: config.cognito.client_id, Token: ending.refreshToken }).catch(() => {});
  }
}
