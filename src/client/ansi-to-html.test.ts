import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AnsiRenderer, ansiToHtml } from './ansi-to-html.js';

describe('ANSI to HTML', () => {
  it('renders SGR colours and styles as spans and resets', () => {
    assert.equal(ansiToHtml('\x1b[31mred\x1b[0m plain'), '<span style="color:#cd3131">red</span> plain');
    assert.equal(ansiToHtml('\x1b[1;92mok\x1b[22m!'), '<span style="color:#23d18b;font-weight:bold">ok</span><span style="color:#23d18b">!</span>');
    assert.equal(ansiToHtml('\x1b[38;5;196mx'), '<span style="color:rgb(255,0,0)">x</span>');
    assert.equal(ansiToHtml('\x1b[48;2;1;2;3my'), '<span style="background:rgb(1,2,3)">y</span>');
  });
  it('escapes HTML and drops non-SGR sequences', () => {
    assert.equal(ansiToHtml('<b>&"\x1b[2K\x1b[1A\x1b]0;title\x07'), '&lt;b&gt;&amp;&quot;');
  });
  it('carries styles across calls on one renderer', () => {
    const r = new AnsiRenderer();
    assert.equal(r.render('\x1b[34mblue'), '<span style="color:#2472c8">blue</span>');
    assert.equal(r.render('still'), '<span style="color:#2472c8">still</span>');
  });
});
