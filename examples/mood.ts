// Layer 0 source: a mood that receivers set with {type: 'mood', mood}. Three changes in one
// handler leave as ONE diff. Run: npm run example:mood
import { source } from '../src/client/index.js';
import { RELAY } from './relay-url.js';

const colors: Record<string, string> = { happy: '#2e7d32', calm: '#1565c0', grumpy: '#c62828' };
const mood = source(`${RELAY}/source/mood`, { initial: { mood: 'calm', energy: 50, color: colors.calm! } });
mood.on('action', ({ action }) => {
  const a = action as { type?: string; mood?: string };
  if (a.type !== 'mood' || !a.mood || !(a.mood in colors)) return;
  mood.state.mood = a.mood;
  mood.state.color = colors[a.mood]!;
  mood.state.energy = Math.min(100, mood.state.energy + 10);
});
setInterval(() => (mood.state.energy = Math.max(0, mood.state.energy - 1)), 1000);
mood.on('open', () => console.log(`mood publishing to ${RELAY}/source/mood`));
