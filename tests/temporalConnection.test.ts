import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { compose } from '../compose';
import { ConfigError, PROJECT_ROOT, readConfig, temporalConnectionOptions } from '../config';

// Temporal's standard settings (envconfig): the TEMPORAL_* variables and profiles of a TOML
// config file. Only the settings given here count: the env passed to readConfig has no HOME
// unless a test gives one, so no config file of the machine running the tests is read.
const dir = mkdtempSync(join(tmpdir(), 'journeys-temporal-settings-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
};
const caCert = file('ca.pem', 'the CA certificate');
const clientCert = file('client.pem', 'the client certificate');
const clientKey = file('client.key', 'the client key');
const bytes = (text: string) => Buffer.from(text);

const connectionOf = (env: Record<string, string>) => {
  const config = readConfig(env, PROJECT_ROOT);
  return { namespace: config.temporal.namespace, options: temporalConnectionOptions(config) };
};

const settingsError = (env: Record<string, string>): string => {
  try {
    readConfig(env, PROJECT_ROOT);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the settings were accepted');
};

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('where journeys finds Temporal', () => {
  it('runs the embedded dev server when no variable and no profile names a Temporal', () => {
    const config = readConfig({ HOME: join(dir, 'home-without-config') }, PROJECT_ROOT);
    expect(config.temporal.address).toBeUndefined();
    expect(temporalConnectionOptions(config)).toEqual({ address: '127.0.0.1:7233' });
    expect(config.temporal.namespace).toBe('default');
  });

  it('runs the embedded dev server on an empty TEMPORAL_CONFIG_FILE, which names no profile', () => {
    const empty = join(dir, 'empty.toml');
    writeFileSync(empty, '\n');
    const config = readConfig({ HOME: join(dir, 'home-without-config'), TEMPORAL_CONFIG_FILE: empty }, PROJECT_ROOT);
    expect(config.temporal.address).toBeUndefined();
    expect(temporalConnectionOptions(config)).toEqual({ address: '127.0.0.1:7233' });
  });

  it('connects to Temporal Cloud with an address, a namespace and an API key, over TLS', () => {
    expect(connectionOf({ TEMPORAL_ADDRESS: 'eu-west-1.aws.api.temporal.io:7233', TEMPORAL_NAMESPACE: 'shop.a1b2c', TEMPORAL_API_KEY: 'secret-key' })).toEqual({
      namespace: 'shop.a1b2c',
      options: { address: 'eu-west-1.aws.api.temporal.io:7233', apiKey: 'secret-key', tls: true },
    });
  });

  it('reads the mTLS certificate, key and server CA from the files the variables name', () => {
    const { options } = connectionOf({
      TEMPORAL_ADDRESS: 'temporal.example.com:7233',
      TEMPORAL_TLS_CLIENT_CERT_PATH: clientCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: clientKey,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: caCert,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      TEMPORAL_GRPC_META_X_TENANT: 'shop',
    });
    expect(options).toEqual({
      address: 'temporal.example.com:7233',
      tls: {
        serverNameOverride: 'temporal.internal',
        serverRootCACertificate: bytes('the CA certificate'),
        clientCertPair: { crt: bytes('the client certificate'), key: bytes('the client key') },
      },
      metadata: { 'x-tenant': 'shop' },
    });
  });

  it('takes the profile TEMPORAL_PROFILE names from TEMPORAL_CONFIG_FILE, the variables overriding it', () => {
    const configFile = file(
      'temporal.toml',
      [
        '[profile.default]',
        'address = "localhost:7233"',
        '',
        '[profile.production]',
        'address = "temporal.example.com:7233"',
        'namespace = "journeys"',
        '[profile.production.tls]',
        `client_cert_path = "${clientCert}"`,
        `client_key_path = "${clientKey}"`,
        '[profile.production.grpc_meta]',
        'x-tenant = "shop"',
      ].join('\n'),
    );
    const env = { TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'production' };
    expect(connectionOf(env)).toEqual({
      namespace: 'journeys',
      options: {
        address: 'temporal.example.com:7233',
        tls: { clientCertPair: { crt: bytes('the client certificate'), key: bytes('the client key') } },
        metadata: { 'x-tenant': 'shop' },
      },
    });
    expect(connectionOf({ ...env, TEMPORAL_NAMESPACE: 'journeys-staging' }).namespace).toBe('journeys-staging');
    expect(connectionOf({ TEMPORAL_CONFIG_FILE: configFile }).options).toEqual({ address: 'localhost:7233' });
  });

  it('finds the config file in its default place, temporalio/temporal.toml in the user config folder', () => {
    const home = join(dir, 'home');
    file('home/.config/temporalio/temporal.toml', '[profile.default]\naddress = "temporal.example.com:7233"\napi_key = "secret-key"\n');
    expect(connectionOf({ HOME: home }).options).toEqual({ address: 'temporal.example.com:7233', apiKey: 'secret-key', tls: true });
  });

  it('hands the client connection the same address and gRPC headers as the worker connection', async () => {
    const config = readConfig({ DATA_DIR: join(dir, 'data'), TEMPORAL_ADDRESS: 'temporal.example.com:7233', TEMPORAL_GRPC_META_X_TENANT: 'shop' }, PROJECT_ROOT);
    const app = await compose(config);
    try {
      expect((app.temporal.connection as Connection).options).toMatchObject({ address: 'temporal.example.com:7233', metadata: { 'x-tenant': 'shop' } });
      expect(app.temporal.options.namespace).toBe('default');
    } finally {
      await app.close();
    }
  });
});

describe('a bad Temporal setting stops the start with one line naming it', () => {
  it.each([
    ['a certificate file that cannot be read', { TEMPORAL_ADDRESS: 'temporal.example.com:7233', TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'missing.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: clientKey }, /^invalid settings: TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read .*missing\.pem \(ENOENT\)$/],
    ['a config file that does not exist', { TEMPORAL_CONFIG_FILE: join(dir, 'nowhere.toml') }, /^invalid settings: TEMPORAL_CONFIG_FILE: cannot read .*nowhere\.toml \(ENOENT\)$/],
    ['a profile the file does not have', { TEMPORAL_CONFIG_FILE: file('one.toml', '[profile.default]\naddress = "localhost:7233"\n'), TEMPORAL_PROFILE: 'prod' }, /^invalid settings: TEMPORAL_PROFILE: no profile "prod" in .*one\.toml, which has "default"$/],
    ['a config file that is not TOML', { TEMPORAL_CONFIG_FILE: file('broken.toml', '[profile.default\naddress = \n') }, /^invalid settings: TEMPORAL_CONFIG_FILE \(.*broken\.toml\): .+$/],
    ['TLS that is neither on nor off', { TEMPORAL_ADDRESS: 'temporal.example.com:7233', TEMPORAL_TLS: 'yes' }, /^invalid settings: TEMPORAL_TLS: "yes" is neither true nor false$/],
    ['an API key without an address', { TEMPORAL_API_KEY: 'secret-key' }, /^invalid settings: TEMPORAL_ADDRESS: TLS or an API key is set but no address/],
  ])('%s', (_, env, message) => {
    expect(settingsError(env)).toMatch(message);
  });

  it('names the profile key of a certificate file the profile names', () => {
    const configFile = file('bad-cert.toml', `[profile.default]\naddress = "temporal.example.com:7233"\n[profile.default.tls]\nserver_ca_cert_path = "${join(dir, 'no-ca.pem')}"\n`);
    expect(settingsError({ TEMPORAL_CONFIG_FILE: configFile })).toMatch(/^invalid settings: tls\.server_ca_cert_path of the profile "default" in .*bad-cert\.toml: cannot read .*no-ca\.pem \(ENOENT\)$/);
  });
});
