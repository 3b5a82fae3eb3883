/**
 * A schema registry URL may carry HTTP basic credentials as its user info
 * (http://user:password@host/apis/ccompat/v7): a registry that gives services
 * read-only access (Apicurio's sr-readonly role) and the release step write
 * access tells them apart by these. The URL itself is then a secret
 * (SCHEMA_REGISTRY_URL_FILE), and the credentials travel as an Authorization
 * header, never in the request's URL.
 */
export interface RegistryEndpoint {
  /** The URL without user info. */
  url: string;
  auth?: { username: string; password: string };
}

export function registryEndpoint(raw: string): RegistryEndpoint {
  const u = new URL(raw);
  if (!u.username && !u.password) return { url: raw };
  const auth = { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  u.username = '';
  u.password = '';
  return { url: u.toString().replace(/\/$/, raw.endsWith('/') ? '/' : ''), auth };
}

/** The Authorization header for a plain request to the registry (health checks). */
export function registryHeaders(endpoint: RegistryEndpoint): Record<string, string> {
  if (!endpoint.auth) return {};
  const { username, password } = endpoint.auth;
  return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}
