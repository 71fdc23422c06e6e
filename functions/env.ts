// Reading the Lambda environment: every setting a function needs, or a clear error naming it.
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Environment variable ${name} is not set; the stack sets it for every Sous function.`);
  return value;
}
