/** Member colours: one per member, in the order they joined the room (the server lists them so). */

/** Distinct, and each at least 4.5:1 against the white text on events (WCAG AA). */
export const PALETTE = ['#2f6fdf', '#c2410c', '#237a36', '#ae3ec9', '#c2255c', '#0b7285', '#a35200', '#5f3dc4', '#4d7c0f', '#862e9c'];
export const NEUTRAL = '#5c677d';

export function memberColor(index: number): string {
  return index < 0 ? NEUTRAL : PALETTE[index % PALETTE.length]!;
}

export function initials(name: string): string {
  const parts = name.trim().split(/[\s._-]+/).filter(Boolean);
  const s = parts.length > 1 ? parts[0]![0]! + parts[1]![0]! : name.slice(0, 2);
  return s.toUpperCase();
}
