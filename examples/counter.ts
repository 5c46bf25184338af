// Layer 0 source: a counter. Receivers can send {type: 'inc'} / {type: 'reset'} actions.
// Run: npm run example:counter
import { source } from '../src/client/index.js';
import { RELAY } from './relay-url.js';

const counter = source(`${RELAY}/source/counter`, { initial: { count: 0, doubled: 0, message: 'private' }, output: ['count', 'doubled'] });
counter.on('action', ({ action, sender }) => {
  const a = action as { type?: string };
  if (a.type === 'inc') counter.state.count++;
  if (a.type === 'reset') counter.state.count = 0;
  counter.state.doubled = counter.state.count * 2;
  console.log(`action ${a.type} from receiver ${sender} → count ${counter.state.count}`);
});
setInterval(() => {
  counter.state.count++;
  counter.state.doubled = counter.state.count * 2;
}, 2000);
counter.on('open', () => console.log(`counter publishing to ${RELAY}/source/counter`));
