/**
 * What a simulated VM's console shows: its name, an uptime counter and clock that change every tick,
 * and the last key and pointer position received, so a viewer can see the console is live and
 * that input arrives.
 */
import { drawText, fillRect } from './draw.js';
import type { Rect } from './draw.js';
import { GLYPH_HEIGHT, glyphAdvance, textWidth } from './font.js';
import type { Framebuffer } from './framebuffer.js';

export const ScreenColour = {
  Background: 0x101820,
  Header: 0x1c2b3a,
  Text: 0xe8e8e8,
  Dim: 0x8fa3b8,
  Marker: 0xffb000,
} as const;

const MARGIN = 16;
const LARGE = 3;
const SMALL = 2;
/** Half the pointer marker's size, pixels. */
const MARKER_RADIUS = 4;

/** Where each element is drawn; exposed so tests and tools can look at the right pixels. */
export interface ScreenLayout {
  /** The VM name, as drawn (scale 3, or 2 and truncated when it does not fit). */
  name: Rect;
  /** The "UP <ticks> <hh:mm:ss>Z" line. */
  status: Rect;
  /** The "KEY ..." and "PTR ..." lines. */
  input: Rect;
}

export class ConsoleScreen {
  readonly layout: ScreenLayout;
  readonly #framebuffer: Framebuffer;
  readonly #scratch: Uint32Array;
  readonly #nameText: string;
  readonly #nameScale: number;
  #ticks = 0;
  #nowMs = 0;
  #key: { keysym: number; down: boolean } | null = null;
  #pointer: { x: number; y: number; mask: number } | null = null;

  constructor(framebuffer: Framebuffer, name: string) {
    this.#framebuffer = framebuffer;
    this.#scratch = new Uint32Array(framebuffer.pixels.length);
    const available = framebuffer.width - 2 * MARGIN;
    if (textWidth(name, LARGE) <= available) {
      this.#nameScale = LARGE;
      this.#nameText = name;
    } else {
      this.#nameScale = SMALL;
      const fits = Math.max(1, Math.floor((available + SMALL) / glyphAdvance(SMALL)));
      this.#nameText = [...name].slice(0, fits).join('');
    }
    const lineHeight = (scale: number) => GLYPH_HEIGHT * scale;
    const statusY = MARGIN * 2 + lineHeight(LARGE) + MARGIN;
    const inputY = statusY + lineHeight(LARGE) + MARGIN;
    this.layout = {
      name: { x: MARGIN, y: MARGIN, width: textWidth(this.#nameText, this.#nameScale), height: lineHeight(this.#nameScale) },
      status: { x: MARGIN, y: statusY, width: available, height: lineHeight(LARGE) },
      input: { x: MARGIN, y: inputY, width: available, height: lineHeight(SMALL) * 2 + SMALL * 3 },
    };
  }

  setTime(ticks: number, nowMs: number): void {
    this.#ticks = ticks;
    this.#nowMs = nowMs;
  }

  setKey(keysym: number, down: boolean): void {
    this.#key = { keysym, down };
  }

  setPointer(x: number, y: number, mask: number): void {
    this.#pointer = { x, y, mask };
  }

  /** Redraws the whole picture and copies it into the framebuffer; true if any pixel changed. */
  render(): boolean {
    const surface = { width: this.#framebuffer.width, height: this.#framebuffer.height, pixels: this.#scratch };
    const { name, status, input } = this.layout;
    this.#scratch.fill(ScreenColour.Background);
    fillRect(surface, { x: 0, y: 0, width: surface.width, height: name.y + name.height + MARGIN }, ScreenColour.Header);
    drawText(surface, this.#nameText, name.x, name.y, this.#nameScale, ScreenColour.Text);
    drawText(surface, this.#statusText(), status.x, status.y, LARGE, ScreenColour.Text);
    drawText(surface, this.#keyText(), input.x, input.y, SMALL, ScreenColour.Dim);
    drawText(surface, this.#pointerText(), input.x, input.y + (GLYPH_HEIGHT + 3) * SMALL, SMALL, ScreenColour.Dim);
    if (this.#pointer) {
      const { x, y } = this.#pointer;
      const size = MARKER_RADIUS * 2 + 1;
      fillRect(surface, { x: x - MARKER_RADIUS, y, width: size, height: 1 }, ScreenColour.Marker);
      fillRect(surface, { x, y: y - MARKER_RADIUS, width: 1, height: size }, ScreenColour.Marker);
    }
    return this.#framebuffer.replace(this.#scratch);
  }

  #statusText(): string {
    const clock = new Date(this.#nowMs).toISOString().slice(11, 19);
    return `UP ${String(this.#ticks).padStart(6, '0')} ${clock}Z`;
  }

  #keyText(): string {
    if (!this.#key) return 'KEY -';
    const { keysym, down } = this.#key;
    const hex = keysym.toString(16).toUpperCase().padStart(4, '0');
    // Latin-1 keysyms equal their character code (X11 keysymdef.h).
    const printable = keysym > 0x20 && keysym < 0x7f ? ` ${String.fromCharCode(keysym)}` : '';
    return `KEY ${hex}${printable} ${down ? 'DOWN' : 'UP'}`;
  }

  #pointerText(): string {
    if (!this.#pointer) return 'PTR -';
    const { x, y, mask } = this.#pointer;
    return `PTR ${x},${y} BUTTONS ${mask.toString(2).padStart(3, '0')}`;
  }
}
