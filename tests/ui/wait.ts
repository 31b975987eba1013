/** Polls until `check` passes (ink draws asynchronously); fails with the last error after `timeoutMs`. */
export const waitFor = async (check: () => void, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      check()
      return
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
}
