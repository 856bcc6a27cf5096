// Real deposits for the fake SHKeeper: when a test (or `make run`) pays an
// invoice, the fake sends an ERC-20 transfer of the invoice's token on the
// test chain (anvil) to the deposit address it handed out, and mines it deep
// enough to be final, so its callbacks name transactions the service can
// check on the chain, as it does in production (shkeeper_verify_on_chain).
//
// Read from the environment tests/chain/setup.sh writes (DIR/chain.env):
//   ANVIL_URL                 the chain (BSC, chain id 56)
//   CHAIN_SHKEEPER_PAYER      an unlocked anvil account holding the test tokens
//   PAYMENTS_TOKEN_BSC_<SYM>, PAYMENTS_TOKEN_DECIMALS_BSC_<SYM>   the tokens
// Without them the fake makes transaction ids up, and says so.
import { rpc, mine, waitReceipt, transferData, addrWord, word } from '../../chain/rpc.mjs';

// SHKeeper's cryptos on the chain the test node serves (BEP-20 on BSC).
const ON_CHAIN = { 'BNB-USDT': 'USDT', 'BNB-USDC': 'USDC' };

export class Chain {
  // tokens: crypto -> { address, decimals }
  constructor({ url, payer, tokens, finalDepth = 4, log = () => {} }) {
    Object.assign(this, { url, payer, tokens, finalDepth, log });
    this.queue = Promise.resolve();
  }

  static fromEnv(env, log) {
    if (!env.ANVIL_URL || !env.CHAIN_SHKEEPER_PAYER) return null;
    const tokens = {};
    for (const [crypto, sym] of Object.entries(ON_CHAIN)) {
      const address = env[`PAYMENTS_TOKEN_BSC_${sym}`];
      if (address) tokens[crypto] = { address, decimals: Number(env[`PAYMENTS_TOKEN_DECIMALS_BSC_${sym}`] ?? 18) };
    }
    return new Chain({ url: env.ANVIL_URL, payer: env.CHAIN_SHKEEPER_PAYER, tokens, log });
  }

  has(crypto) {
    return crypto in this.tokens;
  }

  // One chain operation at a time: nonces and mined depths stay what each caller expects.
  #serial(fn) {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  // A transfer of `amount` (a Q, in tokens) to `to`, mined and buried under
  // depth - 1 more blocks. Returns the transaction hash.
  transfer(crypto, to, amount, depth = this.finalDepth) {
    const token = this.tokens[crypto];
    if (!token) throw new Error(`no ${crypto} token on the test chain`);
    return this.#serial(async () => {
      const units = amount.units(token.decimals);
      const hash = await rpc(this.url, 'eth_sendTransaction', [{ from: this.payer, to: token.address, data: transferData(to, units) }]);
      await mine(this.url, Math.max(1, depth));
      const receipt = await waitReceipt(this.url, hash);
      if (receipt.status !== '0x1') throw new Error(`transfer ${hash} reverted`);
      this.log(`chain: ${crypto} ${units} units to ${to} in ${hash} (block ${Number(receipt.blockNumber)}, depth ${depth})`);
      return hash;
    });
  }

  // The wallet a provider pays out from: an address anvil signs for
  // (impersonated), given gas and a stock of every token.
  async fundPayoutWallet(address, tokens = 10n ** 9n) {
    this.payoutWallet = address;
    await rpc(this.url, 'anvil_impersonateAccount', [address]);
    await rpc(this.url, 'anvil_setBalance', [address, '0x56bc75e2d63100000']);
    return this.#serial(async () => {
      for (const { address: token, decimals } of Object.values(this.tokens)) {
        const h = await rpc(this.url, 'eth_sendTransaction', [{ from: this.payer, to: token, data: '0x40c10f19' + addrWord(address) + word(tokens * 10n ** BigInt(decimals)) }]);
        await mine(this.url, 1);
        await waitReceipt(this.url, h);
      }
      this.log(`chain: payout wallet ${address} funded`);
    });
  }

  // A payout: a transfer from the payout wallet, mined and buried as deep as a deposit.
  payout(crypto, to, amount, depth = this.finalDepth) {
    const token = this.tokens[crypto];
    if (!token) throw new Error(`no ${crypto} token on the test chain`);
    if (!this.payoutWallet) throw new Error('no payout wallet');
    return this.#serial(async () => {
      const units = amount.units(token.decimals);
      const hash = await rpc(this.url, 'eth_sendTransaction', [{ from: this.payoutWallet, to: token.address, data: transferData(to, units) }]);
      await mine(this.url, Math.max(1, depth));
      const receipt = await waitReceipt(this.url, hash);
      if (receipt.status !== '0x1') throw new Error(`payout ${hash} reverted`);
      this.log(`chain: payout of ${crypto} ${units} units to ${to} in ${hash}`);
      return hash;
    });
  }

  // Buries what was mined under `blocks` more blocks.
  deepen(blocks) {
    return this.#serial(() => (blocks > 0 ? mine(this.url, blocks) : null));
  }
}
