// Layer 1 aggregator: receives counter, clock and stats, derives metrics, re-streams them.
// Run: npm run example:metrics
import { compose, subscribe } from '../src/client/index.js';
import { RELAY } from './relay-url.js';

const counter = subscribe<{ count: number }>(`${RELAY}/stream/counter`, { select: ['count'] });
const clock = subscribe<{ uptime: number }>(`${RELAY}/stream/clock`, { select: ['uptime'] });
const stats = subscribe<{ total: number }>(`${RELAY}/stream/stats`, { select: ['total'] });

const metrics = compose({ counter, clock, stats }, ({ counter, clock, stats }) => ({
  uptime: clock.uptime ?? 0,
  events: (counter.count ?? 0) + (stats.total ?? 0),
  status: counter.count === undefined || stats.total === undefined ? 'degraded' : 'nominal',
}));
metrics.publish(`${RELAY}/source/metrics`, { output: ['uptime', 'events', 'status'] });
console.log(`metrics aggregator: counter + clock + stats → ${RELAY}/source/metrics`);
