package kerr

// SaslAuthenticationFailed is SASLAuthenticationFailed under the spelling of
// the Java client's SaslAuthenticationException, which is how users look
// for it: the same *Error, so errors.Is matches either name.
var SaslAuthenticationFailed = SASLAuthenticationFailed
