/** `ip:port`, with an IPv6 address in brackets (`[::1]:7788`), as it is written in a URL. */
export function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
