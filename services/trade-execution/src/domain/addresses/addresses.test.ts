import { randomBytes } from 'node:crypto';
import type { Asset } from '@orrange/money';
import { formatAddress, isValidAddress, type Networks } from './addresses';
import { base58CheckDecode, base58CheckEncode } from './base58check';
import { segwitDecode } from './bech32';
import { toChecksumAddress } from './eip55';

const MAINNET: Networks = { btc: 'mainnet', evm: 'mainnet' };
const TESTNET: Networks = { btc: 'testnet', evm: 'sepolia' };

/** Changes one character of an address to another of its alphabet (keeps the case of letters). */
function corrupt(address: string, at: number): string {
  const c = address[at]!;
  const swap = /[0-9]/.test(c)
    ? String((Number(c) + 1) % 10)
    : c === c.toLowerCase()
      ? c === 'q'
        ? 'p'
        : 'q'
      : c === 'Q'
        ? 'P'
        : 'Q';
  return address.slice(0, at) + swap + address.slice(at + 1);
}

describe('BTC addresses', () => {
  it.each([
    ['BIP-173 v0 P2WPKH, upper case', 'BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4'],
    ['v0 P2WPKH', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq'],
    ['BIP-350 v1 taproot (bech32m)', 'bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0'],
    ['P2PKH (Base58Check)', '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa'],
    ['P2SH (Base58Check)', '3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy'],
  ])('when a mainnet address is %s, then it is valid on mainnet and not on testnet', (_name, address) => {
    expect(isValidAddress('BTC', address, MAINNET)).toBe(true);
    expect(isValidAddress('BTC', address, TESTNET)).toBe(false);
  });

  it.each([
    ['v0 P2WSH', 'tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7'],
    ['P2PKH (Base58Check)', 'mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn'],
  ])('when a testnet address is %s, then it is valid on testnet only', (_name, address) => {
    expect(isValidAddress('BTC', address, TESTNET)).toBe(true);
    expect(isValidAddress('BTC', address, MAINNET)).toBe(false);
  });

  it.each([
    ['a bech32 checksum off by one character', 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5'],
    ['a v1 program in bech32 instead of bech32m (BIP-350)', 'bc1pw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx'],
    ['mixed case', 'bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4'],
    ['a Base58Check checksum off by one character', '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb'],
    ['an EVM address', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'],
    ['free text', 'my wallet'],
    ['an empty string', ''],
  ])('when a BTC address has %s, then it is refused', (_name, address) => {
    expect(isValidAddress('BTC', address, MAINNET)).toBe(false);
  });

  it('when a P2WPKH address is formatted from 20 bytes, then it decodes back to them, and every one-character corruption is refused', () => {
    const key = randomBytes(20);
    const address = formatAddress('BTC', key, MAINNET);
    expect(address).toMatch(/^bc1q[02-9ac-hj-np-z]{38}$/);
    expect(Buffer.from(segwitDecode('bc', address)!.program).equals(key)).toBe(true);
    for (let at = 4; at < address.length; at += 1)
      expect(isValidAddress('BTC', corrupt(address, at), MAINNET)).toBe(false);
    expect(formatAddress('BTC', key, { btc: 'regtest', evm: 'mainnet' })).toMatch(/^bcrt1q/);
  });

  it('when a payload is Base58Check encoded, then it decodes back to it (leading zero bytes kept)', () => {
    const payload = Buffer.concat([Buffer.from([0]), randomBytes(20)]);
    expect(Buffer.from(base58CheckDecode(base58CheckEncode(payload))!).equals(payload)).toBe(true);
  });
});

describe('EVM addresses (ETH, USDT, USDC)', () => {
  const eip55Vectors = [
    '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
    '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
    '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB',
    '0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb',
  ];

  it.each(eip55Vectors)(
    'when the EIP-55 test vector %s is checked, then our checksum spells it the same and it is valid for every EVM asset',
    (address) => {
      expect(toChecksumAddress(address.toLowerCase())).toBe(address);
      for (const asset of ['ETH', 'USDT', 'USDC'] as Asset[])
        expect(isValidAddress(asset, address, MAINNET)).toBe(true);
    },
  );

  it.each(eip55Vectors)('when one letter of %s changes case (a corrupted checksum), then it is refused', (address) => {
    const at = address.slice(2).search(/[a-fA-F]/) + 2;
    const flipped =
      address.slice(0, at) +
      (address[at] === address[at]!.toLowerCase() ? address[at]!.toUpperCase() : address[at]!.toLowerCase()) +
      address.slice(at + 1);
    for (const asset of ['ETH', 'USDT', 'USDC'] as Asset[]) expect(isValidAddress(asset, flipped, MAINNET)).toBe(false);
  });

  it.each([
    ['all lower case (no checksum)', '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed', true],
    ['all upper case (no checksum)', '0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED', true],
    ['39 hex digits', '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae', false],
    ['a non-hex digit', '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg', false],
    ['no 0x', '5aaeb6053f3e94c9b9a09f33669435e7ef1beaed', false],
    ['a BTC address', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', false],
  ])('when an EVM address is %s, then valid is %s', (_name, address, valid) => {
    expect(isValidAddress('USDT', address, MAINNET)).toBe(valid);
  });

  it('when an EVM address is formatted from 20 bytes, then it carries a checksum that a changed digit breaks', () => {
    const address = formatAddress('ETH', Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex'), MAINNET);
    expect(isValidAddress('ETH', address, MAINNET)).toBe(true);
    expect(address.toLowerCase()).toBe('0x00112233445566778899aabbccddeeff00112233');
  });
});
