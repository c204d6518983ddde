/**
 * A count with its thousands grouped by commas ("1,124,710"), as zh-CN and
 * English both write them and as antd's `Statistic` shows its numbers. Not
 * `toLocaleString()`: that follows the web view's own locale, and WebKitGTK
 * started under a C locale printed no separators at all.
 */
export function formatCount(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
