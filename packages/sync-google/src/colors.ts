/**
 * Event colours between Kith and Google. Kith stores any CSS colour (a hex value from the app, a CSS3 name
 * from an imported iCalendar COLOR); Google offers 11 event colours (`colorId` "1".."11"). A Kith colour goes
 * to Google as the nearest of the 11; a Google colour comes to Kith as that colour's own hex value, whose
 * nearest is itself, so a round trip settles at once instead of flapping. The mirror compares colorIds, so a
 * Kith colour Google cannot show exactly is kept as it is while Google shows its nearest.
 */

/** Google's event palette (`colors.get` → `event`, background), by colorId. */
export const GOOGLE_EVENT_COLORS: Readonly<Record<string, string>> = {
  '1': '#a4bdfc', // Lavender
  '2': '#7ae7bf', // Sage
  '3': '#dbadff', // Grape
  '4': '#ff887c', // Flamingo
  '5': '#fbd75b', // Banana
  '6': '#ffb878', // Tangerine
  '7': '#46d6db', // Peacock
  '8': '#e1e1e1', // Graphite
  '9': '#5484ed', // Blueberry
  '10': '#51b749', // Basil
  '11': '#dc2127', // Tomato
};

/** Greys (black to white) all show as Graphite; hue distances mean nothing for them. */
const GRAPHITE = '8';
const GREY_SATURATION = 0.15;
const NEAR_BLACK = 0.12;
const NEAR_WHITE = 0.95;

/** The 148 CSS Color Module 3/4 named colours (taken from the `color-name` package's table). */
const CSS_NAMES: ReadonlyMap<string, string> = new Map(
  [
  'aliceblue:f0f8ff antiquewhite:faebd7 aqua:00ffff aquamarine:7fffd4 azure:f0ffff beige:f5f5dc bisque:ffe4c4',
  'black:000000 blanchedalmond:ffebcd blue:0000ff blueviolet:8a2be2 brown:a52a2a burlywood:deb887',
  'cadetblue:5f9ea0 chartreuse:7fff00 chocolate:d2691e coral:ff7f50 cornflowerblue:6495ed cornsilk:fff8dc',
  'crimson:dc143c cyan:00ffff darkblue:00008b darkcyan:008b8b darkgoldenrod:b8860b darkgray:a9a9a9',
  'darkgreen:006400 darkgrey:a9a9a9 darkkhaki:bdb76b darkmagenta:8b008b darkolivegreen:556b2f darkorange:ff8c00',
  'darkorchid:9932cc darkred:8b0000 darksalmon:e9967a darkseagreen:8fbc8f darkslateblue:483d8b',
  'darkslategray:2f4f4f darkslategrey:2f4f4f darkturquoise:00ced1 darkviolet:9400d3 deeppink:ff1493',
  'deepskyblue:00bfff dimgray:696969 dimgrey:696969 dodgerblue:1e90ff firebrick:b22222 floralwhite:fffaf0',
  'forestgreen:228b22 fuchsia:ff00ff gainsboro:dcdcdc ghostwhite:f8f8ff gold:ffd700 goldenrod:daa520 gray:808080',
  'green:008000 greenyellow:adff2f grey:808080 honeydew:f0fff0 hotpink:ff69b4 indianred:cd5c5c indigo:4b0082',
  'ivory:fffff0 khaki:f0e68c lavender:e6e6fa lavenderblush:fff0f5 lawngreen:7cfc00 lemonchiffon:fffacd',
  'lightblue:add8e6 lightcoral:f08080 lightcyan:e0ffff lightgoldenrodyellow:fafad2 lightgray:d3d3d3',
  'lightgreen:90ee90 lightgrey:d3d3d3 lightpink:ffb6c1 lightsalmon:ffa07a lightseagreen:20b2aa',
  'lightskyblue:87cefa lightslategray:778899 lightslategrey:778899 lightsteelblue:b0c4de lightyellow:ffffe0',
  'lime:00ff00 limegreen:32cd32 linen:faf0e6 magenta:ff00ff maroon:800000 mediumaquamarine:66cdaa',
  'mediumblue:0000cd mediumorchid:ba55d3 mediumpurple:9370db mediumseagreen:3cb371 mediumslateblue:7b68ee',
  'mediumspringgreen:00fa9a mediumturquoise:48d1cc mediumvioletred:c71585 midnightblue:191970 mintcream:f5fffa',
  'mistyrose:ffe4e1 moccasin:ffe4b5 navajowhite:ffdead navy:000080 oldlace:fdf5e6 olive:808000 olivedrab:6b8e23',
  'orange:ffa500 orangered:ff4500 orchid:da70d6 palegoldenrod:eee8aa palegreen:98fb98 paleturquoise:afeeee',
  'palevioletred:db7093 papayawhip:ffefd5 peachpuff:ffdab9 peru:cd853f pink:ffc0cb plum:dda0dd powderblue:b0e0e6',
  'purple:800080 rebeccapurple:663399 red:ff0000 rosybrown:bc8f8f royalblue:4169e1 saddlebrown:8b4513',
  'salmon:fa8072 sandybrown:f4a460 seagreen:2e8b57 seashell:fff5ee sienna:a0522d silver:c0c0c0 skyblue:87ceeb',
  'slateblue:6a5acd slategray:708090 slategrey:708090 snow:fffafa springgreen:00ff7f steelblue:4682b4 tan:d2b48c',
  'teal:008080 thistle:d8bfd8 tomato:ff6347 turquoise:40e0d0 violet:ee82ee wheat:f5deb3 white:ffffff',
  'whitesmoke:f5f5f5 yellow:ffff00 yellowgreen:9acd32',  ]
    .join(' ')
    .split(' ')
    .map((pair) => pair.split(':') as [string, string]),
);

type Rgb = readonly [number, number, number];

/** `#rgb`, `#rrggbb` or a CSS colour name (any case, surrounding spaces ignored); null for anything else. */
export function parseColor(value: string | null | undefined): Rgb | null {
  if (!value) return null;
  const v = value.trim().toLowerCase();
  const hex = CSS_NAMES.get(v) ?? (/^#[0-9a-f]{6}$/.test(v) ? v.slice(1) : /^#[0-9a-f]{3}$/.test(v) ? [...v.slice(1)].map((c) => c + c).join('') : null);
  if (hex === null) return null;
  return [parseInt(hex.slice(0, 2), 16), parseInt(hex.slice(2, 4), 16), parseInt(hex.slice(4, 6), 16)];
}

/** Hue (degrees), saturation and lightness (0..1). */
function hsl([r, g, b]: Rgb): { h: number; s: number; l: number } {
  const [rn, gn, bn] = [r / 255, g / 255, b / 255];
  const max = Math.max(rn, gn, bn);
  const min = Math.min(rn, gn, bn);
  const l = (max + min) / 2;
  if (max === min) return { h: 0, s: 0, l };
  const d = max - min;
  const s = d / (1 - Math.abs(2 * l - 1));
  const h = max === rn ? ((gn - bn) / d + 6) % 6 : max === gn ? (bn - rn) / d + 2 : (rn - gn) / d + 4;
  return { h: h * 60, s, l };
}

/**
 * How far apart two colours look, hue first: Google's palette is pastel, so a plain RGB distance sends
 * saturated colours to the wrong family (purple to Tomato). Lightness separates the pairs of one hue
 * (Lavender/Blueberry, Flamingo/Tomato).
 */
function distance(a: { h: number; l: number }, b: { h: number; l: number }): number {
  const dh = Math.abs(a.h - b.h);
  return Math.min(dh, 360 - dh) + LIGHTNESS_WEIGHT * Math.abs(a.l - b.l);
}
const LIGHTNESS_WEIGHT = 60;

const PALETTE: ReadonlyArray<readonly [string, { h: number; l: number }]> = Object.entries(GOOGLE_EVENT_COLORS)
  .filter(([id]) => id !== GRAPHITE)
  .map(([id, hex]) => [id, hsl(parseColor(hex)!)]);

/** The Google colorId that shows a Kith colour best; undefined when Kith has none (or one we cannot read). */
export function googleColorId(kithColor: string | null | undefined): string | undefined {
  const rgb = parseColor(kithColor);
  if (!rgb) return undefined;
  const c = hsl(rgb);
  if (c.s < GREY_SATURATION || c.l < NEAR_BLACK || c.l > NEAR_WHITE) return GRAPHITE;
  let best = PALETTE[0]!;
  for (const entry of PALETTE) if (distance(c, entry[1]) < distance(c, best[1])) best = entry;
  return best[0];
}

/** A colorId as Google may send it: "1".."11", anything else (absent, unknown) is no colour. */
export function validColorId(v: unknown): string | undefined {
  return typeof v === 'string' && Object.hasOwn(GOOGLE_EVENT_COLORS, v) ? v : undefined;
}

/** The Kith colour for a Google colorId (its hex value), or null for none. */
export function kithColor(colorId: string | undefined): string | null {
  return colorId !== undefined ? (GOOGLE_EVENT_COLORS[colorId] ?? null) : null;
}
