import { registryEndpoint, registryHeaders } from './registry-endpoint';

describe('registryEndpoint', () => {
  it('takes basic credentials out of the URL into auth', () => {
    const e = registryEndpoint('http://sluice-services:p%40ss@127.0.0.1:8085/apis/ccompat/v7');
    expect(e).toEqual({ url: 'http://127.0.0.1:8085/apis/ccompat/v7', auth: { username: 'sluice-services', password: 'p@ss' } });
    expect(registryHeaders(e)).toEqual({ authorization: `Basic ${Buffer.from('sluice-services:p@ss').toString('base64')}` });
  });

  it('leaves a URL without credentials as it is, with no header', () => {
    const e = registryEndpoint('http://127.0.0.1:8085/apis/ccompat/v7');
    expect(e).toEqual({ url: 'http://127.0.0.1:8085/apis/ccompat/v7' });
    expect(registryHeaders(e)).toEqual({});
  });
});
