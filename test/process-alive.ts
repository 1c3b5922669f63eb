/** Whether a process with this pid exists (signal 0 reaches it): for tests that watch processes end. */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
