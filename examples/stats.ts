// Layer 0 source: running statistics of a random signal. Run: npm run example:stats
import { source } from '../src/client/index.js';
import { RELAY } from './relay-url.js';

const stats = source(`${RELAY}/source/stats`, { initial: { total: 0, average: 0, max: 0, last: 0 } });
let sum = 0;
setInterval(() => {
  const v = Math.round(Math.random() * 100);
  sum += v;
  const total = stats.state.total + 1;
  stats.set({ total, average: Math.round((sum / total) * 10) / 10, max: Math.max(stats.state.max, v), last: v });
}, 500);
stats.on('open', () => console.log(`stats publishing to ${RELAY}/source/stats`));
