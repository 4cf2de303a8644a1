public enum ProfdProtocolVersion { public static let current: UInt8 = 1 }
