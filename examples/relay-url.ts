/** Where the examples find the relay: SLUICE_URL, or the local default. */
export const RELAY = process.env.SLUICE_URL ?? 'ws://localhost:9100';
