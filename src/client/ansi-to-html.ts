/**
 * Renders text with ANSI SGR escape sequences (colours, bold, italic, underline) as HTML spans.
 * Other escape sequences (cursor movement, erase) are dropped. Text is HTML-escaped, so the output
 * is safe to assign to innerHTML. Keep a renderer per stream: styles carry over between lines.
 */
const BASIC = ['#000000', '#cd3131', '#0dbc79', '#e5e510', '#2472c8', '#bc3fbc', '#11a8cd', '#e5e5e5'];
const BRIGHT = ['#666666', '#f14c4c', '#23d18b', '#f5f543', '#3b8eea', '#d670d6', '#29b8db', '#ffffff'];

function color256(n: number): string {
  if (n < 8) return BASIC[n]!;
  if (n < 16) return BRIGHT[n - 8]!;
  if (n < 232) {
    const i = n - 16;
    const c = (v: number) => (v === 0 ? 0 : 55 + v * 40);
    return `rgb(${c(Math.floor(i / 36))},${c(Math.floor(i / 6) % 6)},${c(i % 6)})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export class AnsiRenderer {
  private fg: string | undefined;
  private bg: string | undefined;
  private bold = false;
  private italic = false;
  private underline = false;

  private style(): string {
    const s: string[] = [];
    if (this.fg) s.push(`color:${this.fg}`);
    if (this.bg) s.push(`background:${this.bg}`);
    if (this.bold) s.push('font-weight:bold');
    if (this.italic) s.push('font-style:italic');
    if (this.underline) s.push('text-decoration:underline');
    return s.join(';');
  }

  private sgr(params: number[]): void {
    if (params.length === 0) params = [0];
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      if (p === 0) {
        this.fg = this.bg = undefined;
        this.bold = this.italic = this.underline = false;
      } else if (p === 1) this.bold = true;
      else if (p === 3) this.italic = true;
      else if (p === 4) this.underline = true;
      else if (p === 22) this.bold = false;
      else if (p === 23) this.italic = false;
      else if (p === 24) this.underline = false;
      else if (p >= 30 && p <= 37) this.fg = BASIC[p - 30];
      else if (p === 39) this.fg = undefined;
      else if (p >= 40 && p <= 47) this.bg = BASIC[p - 40];
      else if (p === 49) this.bg = undefined;
      else if (p >= 90 && p <= 97) this.fg = BRIGHT[p - 90];
      else if (p >= 100 && p <= 107) this.bg = BRIGHT[p - 100];
      else if ((p === 38 || p === 48) && params[i + 1] === 5 && params[i + 2] !== undefined) {
        const c = color256(params[i + 2]!);
        if (p === 38) this.fg = c;
        else this.bg = c;
        i += 2;
      } else if ((p === 38 || p === 48) && params[i + 1] === 2 && params[i + 4] !== undefined) {
        const c = `rgb(${params[i + 2]},${params[i + 3]},${params[i + 4]})`;
        if (p === 38) this.fg = c;
        else this.bg = c;
        i += 4;
      }
    }
  }

  /** Converts text (possibly containing escape sequences) to HTML. */
  render(text: string): string {
    let html = '';
    // eslint-disable-next-line no-control-regex
    const re = /\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\x1b./g;
    let last = 0;
    const emit = (chunk: string) => {
      if (!chunk) return;
      const st = this.style();
      html += st ? `<span style="${st}">${escapeHtml(chunk)}</span>` : escapeHtml(chunk);
    };
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      emit(text.slice(last, m.index));
      last = re.lastIndex;
      if (m[2] === 'm') this.sgr((m[1] ?? '').split(';').filter((x) => x !== '' && x !== '?').map(Number));
    }
    emit(text.slice(last));
    return html;
  }
}

/** One-shot conversion with a fresh renderer. */
export function ansiToHtml(text: string): string {
  return new AnsiRenderer().render(text);
}
