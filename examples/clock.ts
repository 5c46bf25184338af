// Layer 0 source: a clock. Run: npm run example:clock
import { source } from '../src/client/index.js';
import { RELAY } from './relay-url.js';

const started = Date.now();
const clock = source(`${RELAY}/source/clock`, { initial: { hours: 0, minutes: 0, seconds: 0, uptime: 0 } });
const tick = () => {
  const d = new Date();
  clock.set({ hours: d.getHours(), minutes: d.getMinutes(), seconds: d.getSeconds(), uptime: Math.round((Date.now() - started) / 1000) });
};
tick();
setInterval(tick, 1000);
clock.on('open', () => console.log(`clock publishing to ${RELAY}/source/clock`));
