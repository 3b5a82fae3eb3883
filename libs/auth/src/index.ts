export * from './challenge';
export * from './config';
export * from './dev-issuer';
export * from './principal';
export * from './scopes';
export * from './verifier';
export * from './access';
export * from './verified-tokens';
