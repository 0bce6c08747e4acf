import {
  computeSign,
  deviceCredentials,
  digestFor,
  parseClientId,
  parseUsername,
  signMatches,
} from '../../gateway/auth';

const vector = {
  signClientId: '123456',
  deviceKey: 'test',
  productKey: '654321',
  timestamp: '1548753362502',
  secret: 'abcdefg',
};

describe('EnOS login signature', () => {
  it('matches the protocol document test vector for sha256, sha1 and md5', () => {
    expect(computeSign(vector, 'sha256')).toBe('b99032d49c706f7b27b22ab5cd2dd3c56a31e1bcbbc83ba0a2a6bb3272fbb166');
    expect(computeSign(vector, 'sha1').toUpperCase()).toBe('53D00561032C47B8555B768A08FDE176A6F0D267');
    expect(computeSign(vector, 'md5')).toBe('b040b0189975e6704dbb2c217189fa3b');
  });

  it('parses the documented client id and username', () => {
    const parsed = parseClientId('123456|securemode=2,signmethod=sha256,timestamp=1548753362502|');
    expect(parsed).toEqual({
      ok: true,
      value: {
        signClientId: '123456',
        secureMode: '2',
        signMethod: 'sha256',
        timestamp: '1548753362502',
        compress: undefined,
      },
    });
    expect(parseUsername('test&654321')).toEqual({ ok: true, value: { deviceKey: 'test', productKey: '654321' } });
  });

  it('trims spaces around items and accepts the Java 2.x long client id with braces', () => {
    const id =
      'dev1{ip=10.0.0.1,version=enos-mqtt-2.2.16,compress=DEFAULT}|securemode=2, signmethod=sha256 , timestamp=1716900000000.123|';
    const parsed = parseClientId(id);
    expect(parsed.ok && parsed.value).toEqual({
      signClientId: 'dev1{ip=10.0.0.1,version=enos-mqtt-2.2.16,compress=DEFAULT}',
      secureMode: '2',
      signMethod: 'sha256',
      timestamp: '1716900000000.123',
      compress: 'DEFAULT',
    });
  });

  it('refuses garbled client ids', () => {
    for (const id of [
      '',
      'dev1',
      'dev1|securemode=2,timestamp=1',
      '|securemode=2,timestamp=1|',
      'dev|timestamp=1|',
      'dev|securemode=2|',
      'dev|securemode=2,garbage,timestamp=1|',
    ]) {
      expect(parseClientId(id).ok).toBe(false);
    }
    for (const u of ['', 'dk', 'dk&', '&pk', 'a&b&c']) expect(parseUsername(u).ok).toBe(false);
  });

  it('maps sign method names case-insensitively, hmac names to plain digests, none to sha1', () => {
    expect(digestFor('HmacSHA256')).toBe('sha256');
    expect(digestFor('hmacsha1')).toBe('sha1');
    expect(digestFor('MD5')).toBe('md5');
    expect(digestFor(undefined)).toBe('sha1');
    expect(digestFor('sha512')).toBeUndefined();
  });

  it('compares hex case-insensitively and rejects other lengths or digits', () => {
    const sign = computeSign(vector, 'sha256');
    expect(signMatches(sign, sign.toUpperCase())).toBe(true);
    expect(signMatches(sign, sign.slice(0, -1))).toBe(false);
    expect(signMatches(sign, `${sign.slice(0, -1)}0`)).toBe(sign.endsWith('0'));
  });

  it('builds the credentials a device SDK sends', () => {
    const creds = deviceCredentials({
      productKey: '654321',
      deviceKey: 'test',
      deviceSecret: 'abcdefg',
      timestamp: '1548753362502',
      signMethod: 'hmacsha1',
      upperCase: true,
      signClientId: '123456',
    });
    expect(creds).toEqual({
      clientId: '123456|securemode=2,signmethod=hmacsha1,timestamp=1548753362502|',
      username: 'test&654321',
      password: '53D00561032C47B8555B768A08FDE176A6F0D267',
    });
  });
});
