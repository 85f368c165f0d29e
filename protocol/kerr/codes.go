package kerr

// The protocol's error codes, one value per code, written from Apache
// Kafka's Errors class (org.apache.kafka.common.protocol.Errors, version
// 4.3.1): each code's name and message, retriable where the Java client's
// exception for it is a RetriableException, and refreshing metadata where it
// is an InvalidMetadataException. Code 0 (NONE) is not an error and has no
// value; 99 was never assigned. codes_test.go checks this file, row by row,
// against a table of that class, where one lies beside the checkout.
var (
	UnknownServerError                 = &Error{Code: -1, Name: "UNKNOWN_SERVER_ERROR", Message: "The server experienced an unexpected error when processing the request.", Retriable: false, RefreshMetadata: false}
	OffsetOutOfRange                   = &Error{Code: 1, Name: "OFFSET_OUT_OF_RANGE", Message: "The requested offset is not within the range of offsets maintained by the server.", Retriable: false, RefreshMetadata: false}
	CorruptMessage                     = &Error{Code: 2, Name: "CORRUPT_MESSAGE", Message: "This message has failed its CRC checksum, exceeds the valid size, has a null key for a compacted topic, or is otherwise corrupt.", Retriable: true, RefreshMetadata: false}
	UnknownTopicOrPartition            = &Error{Code: 3, Name: "UNKNOWN_TOPIC_OR_PARTITION", Message: "This server does not host this topic-partition.", Retriable: true, RefreshMetadata: true}
	InvalidFetchSize                   = &Error{Code: 4, Name: "INVALID_FETCH_SIZE", Message: "The requested fetch size is invalid.", Retriable: false, RefreshMetadata: false}
	LeaderNotAvailable                 = &Error{Code: 5, Name: "LEADER_NOT_AVAILABLE", Message: "There is no leader for this topic-partition as we are in the middle of a leadership election.", Retriable: true, RefreshMetadata: true}
	NotLeaderOrFollower                = &Error{Code: 6, Name: "NOT_LEADER_OR_FOLLOWER", Message: "For requests intended only for the leader, this error indicates that the broker is not the current leader. For requests intended for any replica, this error indicates that the broker is not a replica of the topic partition.", Retriable: true, RefreshMetadata: true}
	RequestTimedOut                    = &Error{Code: 7, Name: "REQUEST_TIMED_OUT", Message: "The request timed out.", Retriable: true, RefreshMetadata: false}
	BrokerNotAvailable                 = &Error{Code: 8, Name: "BROKER_NOT_AVAILABLE", Message: "The broker is not available.", Retriable: false, RefreshMetadata: false}
	ReplicaNotAvailable                = &Error{Code: 9, Name: "REPLICA_NOT_AVAILABLE", Message: "The replica is not available for the requested topic-partition. Produce/Fetch requests and other requests intended only for the leader or follower return NOT_LEADER_OR_FOLLOWER if the broker is not a replica of the topic-partition.", Retriable: true, RefreshMetadata: true}
	MessageTooLarge                    = &Error{Code: 10, Name: "MESSAGE_TOO_LARGE", Message: "The request included a message larger than the max message size the server will accept.", Retriable: false, RefreshMetadata: false}
	StaleControllerEpoch               = &Error{Code: 11, Name: "STALE_CONTROLLER_EPOCH", Message: "The controller moved to another broker.", Retriable: false, RefreshMetadata: false}
	OffsetMetadataTooLarge             = &Error{Code: 12, Name: "OFFSET_METADATA_TOO_LARGE", Message: "The metadata field of the offset request was too large.", Retriable: false, RefreshMetadata: false}
	NetworkException                   = &Error{Code: 13, Name: "NETWORK_EXCEPTION", Message: "The server disconnected before a response was received.", Retriable: true, RefreshMetadata: true}
	CoordinatorLoadInProgress          = &Error{Code: 14, Name: "COORDINATOR_LOAD_IN_PROGRESS", Message: "The coordinator is loading and hence can't process requests.", Retriable: true, RefreshMetadata: false}
	CoordinatorNotAvailable            = &Error{Code: 15, Name: "COORDINATOR_NOT_AVAILABLE", Message: "The coordinator is not available.", Retriable: true, RefreshMetadata: false}
	NotCoordinator                     = &Error{Code: 16, Name: "NOT_COORDINATOR", Message: "This is not the correct coordinator.", Retriable: true, RefreshMetadata: false}
	InvalidTopicException              = &Error{Code: 17, Name: "INVALID_TOPIC_EXCEPTION", Message: "The request attempted to perform an operation on an invalid topic.", Retriable: false, RefreshMetadata: false}
	RecordListTooLarge                 = &Error{Code: 18, Name: "RECORD_LIST_TOO_LARGE", Message: "The request included message batch larger than the configured segment size on the server.", Retriable: false, RefreshMetadata: false}
	NotEnoughReplicas                  = &Error{Code: 19, Name: "NOT_ENOUGH_REPLICAS", Message: "Messages are rejected since there are fewer in-sync replicas than required.", Retriable: true, RefreshMetadata: false}
	NotEnoughReplicasAfterAppend       = &Error{Code: 20, Name: "NOT_ENOUGH_REPLICAS_AFTER_APPEND", Message: "Messages are written to the log, but to fewer in-sync replicas than required.", Retriable: true, RefreshMetadata: false}
	InvalidRequiredAcks                = &Error{Code: 21, Name: "INVALID_REQUIRED_ACKS", Message: "Produce request specified an invalid value for required acks.", Retriable: false, RefreshMetadata: false}
	IllegalGeneration                  = &Error{Code: 22, Name: "ILLEGAL_GENERATION", Message: "Specified group generation id is not valid.", Retriable: false, RefreshMetadata: false}
	InconsistentGroupProtocol          = &Error{Code: 23, Name: "INCONSISTENT_GROUP_PROTOCOL", Message: "The group member's supported protocols are incompatible with those of existing members or first group member tried to join with empty protocol type or empty protocol list.", Retriable: false, RefreshMetadata: false}
	InvalidGroupID                     = &Error{Code: 24, Name: "INVALID_GROUP_ID", Message: "The configured groupId is invalid.", Retriable: false, RefreshMetadata: false}
	UnknownMemberID                    = &Error{Code: 25, Name: "UNKNOWN_MEMBER_ID", Message: "The coordinator is not aware of this member.", Retriable: false, RefreshMetadata: false}
	InvalidSessionTimeout              = &Error{Code: 26, Name: "INVALID_SESSION_TIMEOUT", Message: "The session timeout is not within the range allowed by the broker (as configured by group.min.session.timeout.ms and group.max.session.timeout.ms).", Retriable: false, RefreshMetadata: false}
	RebalanceInProgress                = &Error{Code: 27, Name: "REBALANCE_IN_PROGRESS", Message: "The group is rebalancing, so a rejoin is needed.", Retriable: false, RefreshMetadata: false}
	InvalidCommitOffsetSize            = &Error{Code: 28, Name: "INVALID_COMMIT_OFFSET_SIZE", Message: "The committing offset data size is not valid.", Retriable: false, RefreshMetadata: false}
	TopicAuthorizationFailed           = &Error{Code: 29, Name: "TOPIC_AUTHORIZATION_FAILED", Message: "Topic authorization failed.", Retriable: false, RefreshMetadata: false}
	GroupAuthorizationFailed           = &Error{Code: 30, Name: "GROUP_AUTHORIZATION_FAILED", Message: "Group authorization failed.", Retriable: false, RefreshMetadata: false}
	ClusterAuthorizationFailed         = &Error{Code: 31, Name: "CLUSTER_AUTHORIZATION_FAILED", Message: "Cluster authorization failed.", Retriable: false, RefreshMetadata: false}
	InvalidTimestamp                   = &Error{Code: 32, Name: "INVALID_TIMESTAMP", Message: "The timestamp of the message is out of acceptable range.", Retriable: false, RefreshMetadata: false}
	UnsupportedSASLMechanism           = &Error{Code: 33, Name: "UNSUPPORTED_SASL_MECHANISM", Message: "The broker does not support the requested SASL mechanism.", Retriable: false, RefreshMetadata: false}
	IllegalSASLState                   = &Error{Code: 34, Name: "ILLEGAL_SASL_STATE", Message: "Request is not valid given the current SASL state.", Retriable: false, RefreshMetadata: false}
	UnsupportedVersion                 = &Error{Code: 35, Name: "UNSUPPORTED_VERSION", Message: "The version of API is not supported.", Retriable: false, RefreshMetadata: false}
	TopicAlreadyExists                 = &Error{Code: 36, Name: "TOPIC_ALREADY_EXISTS", Message: "Topic with this name already exists.", Retriable: false, RefreshMetadata: false}
	InvalidPartitions                  = &Error{Code: 37, Name: "INVALID_PARTITIONS", Message: "Number of partitions is below 1.", Retriable: false, RefreshMetadata: false}
	InvalidReplicationFactor           = &Error{Code: 38, Name: "INVALID_REPLICATION_FACTOR", Message: "Replication factor is below 1 or larger than the number of available brokers.", Retriable: false, RefreshMetadata: false}
	InvalidReplicaAssignment           = &Error{Code: 39, Name: "INVALID_REPLICA_ASSIGNMENT", Message: "Replica assignment is invalid.", Retriable: false, RefreshMetadata: false}
	InvalidConfig                      = &Error{Code: 40, Name: "INVALID_CONFIG", Message: "Configuration is invalid.", Retriable: false, RefreshMetadata: false}
	NotController                      = &Error{Code: 41, Name: "NOT_CONTROLLER", Message: "This is not the correct controller for this cluster.", Retriable: true, RefreshMetadata: false}
	InvalidRequest                     = &Error{Code: 42, Name: "INVALID_REQUEST", Message: "This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker. See the broker logs for more details.", Retriable: false, RefreshMetadata: false}
	UnsupportedForMessageFormat        = &Error{Code: 43, Name: "UNSUPPORTED_FOR_MESSAGE_FORMAT", Message: "The message format version on the broker does not support the request.", Retriable: false, RefreshMetadata: false}
	PolicyViolation                    = &Error{Code: 44, Name: "POLICY_VIOLATION", Message: "Request parameters do not satisfy the configured policy.", Retriable: false, RefreshMetadata: false}
	OutOfOrderSequenceNumber           = &Error{Code: 45, Name: "OUT_OF_ORDER_SEQUENCE_NUMBER", Message: "The broker received an out of order sequence number.", Retriable: false, RefreshMetadata: false}
	DuplicateSequenceNumber            = &Error{Code: 46, Name: "DUPLICATE_SEQUENCE_NUMBER", Message: "The broker received a duplicate sequence number.", Retriable: false, RefreshMetadata: false}
	InvalidProducerEpoch               = &Error{Code: 47, Name: "INVALID_PRODUCER_EPOCH", Message: "Producer attempted to produce with an old epoch.", Retriable: false, RefreshMetadata: false}
	InvalidTxnState                    = &Error{Code: 48, Name: "INVALID_TXN_STATE", Message: "The producer attempted a transactional operation in an invalid state.", Retriable: false, RefreshMetadata: false}
	InvalidProducerIDMapping           = &Error{Code: 49, Name: "INVALID_PRODUCER_ID_MAPPING", Message: "The producer attempted to use a producer id which is not currently assigned to its transactional id.", Retriable: false, RefreshMetadata: false}
	InvalidTransactionTimeout          = &Error{Code: 50, Name: "INVALID_TRANSACTION_TIMEOUT", Message: "The transaction timeout is larger than the maximum value allowed by the broker (as configured by transaction.max.timeout.ms).", Retriable: false, RefreshMetadata: false}
	ConcurrentTransactions             = &Error{Code: 51, Name: "CONCURRENT_TRANSACTIONS", Message: "The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing.", Retriable: true, RefreshMetadata: false}
	TransactionCoordinatorFenced       = &Error{Code: 52, Name: "TRANSACTION_COORDINATOR_FENCED", Message: "Indicates that the transaction coordinator sending a WriteTxnMarker is no longer the current coordinator for a given producer.", Retriable: false, RefreshMetadata: false}
	TransactionalIDAuthorizationFailed = &Error{Code: 53, Name: "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", Message: "Transactional Id authorization failed.", Retriable: false, RefreshMetadata: false}
	SecurityDisabled                   = &Error{Code: 54, Name: "SECURITY_DISABLED", Message: "Security features are disabled.", Retriable: false, RefreshMetadata: false}
	OperationNotAttempted              = &Error{Code: 55, Name: "OPERATION_NOT_ATTEMPTED", Message: "The broker did not attempt to execute this operation. This may happen for batched RPCs where some operations in the batch failed, causing the broker to respond without trying the rest.", Retriable: false, RefreshMetadata: false}
	KafkaStorageError                  = &Error{Code: 56, Name: "KAFKA_STORAGE_ERROR", Message: "Disk error when trying to access log file on the disk.", Retriable: true, RefreshMetadata: true}
	LogDirNotFound                     = &Error{Code: 57, Name: "LOG_DIR_NOT_FOUND", Message: "The user-specified log directory is not found in the broker config.", Retriable: false, RefreshMetadata: false}
	SASLAuthenticationFailed           = &Error{Code: 58, Name: "SASL_AUTHENTICATION_FAILED", Message: "SASL Authentication failed.", Retriable: false, RefreshMetadata: false}
	UnknownProducerID                  = &Error{Code: 59, Name: "UNKNOWN_PRODUCER_ID", Message: "This exception is raised by the broker if it could not locate the producer metadata associated with the producerId in question. This could happen if, for instance, the producer's records were deleted because their retention time had elapsed. Once the last records of the producerId are removed, the producer's metadata is removed from the broker, and future appends by the producer will return this exception.", Retriable: false, RefreshMetadata: false}
	ReassignmentInProgress             = &Error{Code: 60, Name: "REASSIGNMENT_IN_PROGRESS", Message: "A partition reassignment is in progress.", Retriable: false, RefreshMetadata: false}
	DelegationTokenAuthDisabled        = &Error{Code: 61, Name: "DELEGATION_TOKEN_AUTH_DISABLED", Message: "Delegation Token feature is not enabled.", Retriable: false, RefreshMetadata: false}
	DelegationTokenNotFound            = &Error{Code: 62, Name: "DELEGATION_TOKEN_NOT_FOUND", Message: "Delegation Token is not found on server.", Retriable: false, RefreshMetadata: false}
	DelegationTokenOwnerMismatch       = &Error{Code: 63, Name: "DELEGATION_TOKEN_OWNER_MISMATCH", Message: "Specified Principal is not valid Owner/Renewer.", Retriable: false, RefreshMetadata: false}
	DelegationTokenRequestNotAllowed   = &Error{Code: 64, Name: "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", Message: "Delegation Token requests are not allowed on PLAINTEXT/1-way SSL channels and on delegation token authenticated channels.", Retriable: false, RefreshMetadata: false}
	DelegationTokenAuthorizationFailed = &Error{Code: 65, Name: "DELEGATION_TOKEN_AUTHORIZATION_FAILED", Message: "Delegation Token authorization failed.", Retriable: false, RefreshMetadata: false}
	DelegationTokenExpired             = &Error{Code: 66, Name: "DELEGATION_TOKEN_EXPIRED", Message: "Delegation Token is expired.", Retriable: false, RefreshMetadata: false}
	InvalidPrincipalType               = &Error{Code: 67, Name: "INVALID_PRINCIPAL_TYPE", Message: "Supplied principalType is not supported.", Retriable: false, RefreshMetadata: false}
	NonEmptyGroup                      = &Error{Code: 68, Name: "NON_EMPTY_GROUP", Message: "The group is not empty.", Retriable: false, RefreshMetadata: false}
	GroupIDNotFound                    = &Error{Code: 69, Name: "GROUP_ID_NOT_FOUND", Message: "The group id does not exist.", Retriable: false, RefreshMetadata: false}
	FetchSessionIDNotFound             = &Error{Code: 70, Name: "FETCH_SESSION_ID_NOT_FOUND", Message: "The fetch session ID was not found.", Retriable: true, RefreshMetadata: false}
	InvalidFetchSessionEpoch           = &Error{Code: 71, Name: "INVALID_FETCH_SESSION_EPOCH", Message: "The fetch session epoch is invalid.", Retriable: true, RefreshMetadata: false}
	ListenerNotFound                   = &Error{Code: 72, Name: "LISTENER_NOT_FOUND", Message: "There is no listener on the leader broker that matches the listener on which metadata request was processed.", Retriable: true, RefreshMetadata: true}
	TopicDeletionDisabled              = &Error{Code: 73, Name: "TOPIC_DELETION_DISABLED", Message: "Topic deletion is disabled.", Retriable: false, RefreshMetadata: false}
	FencedLeaderEpoch                  = &Error{Code: 74, Name: "FENCED_LEADER_EPOCH", Message: "The leader epoch in the request is older than the epoch on the broker.", Retriable: true, RefreshMetadata: true}
	UnknownLeaderEpoch                 = &Error{Code: 75, Name: "UNKNOWN_LEADER_EPOCH", Message: "The leader epoch in the request is newer than the epoch on the broker.", Retriable: true, RefreshMetadata: false}
	UnsupportedCompressionType         = &Error{Code: 76, Name: "UNSUPPORTED_COMPRESSION_TYPE", Message: "The requesting client does not support the compression type of given partition.", Retriable: false, RefreshMetadata: false}
	StaleBrokerEpoch                   = &Error{Code: 77, Name: "STALE_BROKER_EPOCH", Message: "Broker epoch has changed.", Retriable: false, RefreshMetadata: false}
	OffsetNotAvailable                 = &Error{Code: 78, Name: "OFFSET_NOT_AVAILABLE", Message: "The leader high watermark has not caught up from a recent leader election so the offsets cannot be guaranteed to be monotonically increasing.", Retriable: true, RefreshMetadata: false}
	MemberIDRequired                   = &Error{Code: 79, Name: "MEMBER_ID_REQUIRED", Message: "The group member needs to have a valid member id before actually entering a consumer group.", Retriable: false, RefreshMetadata: false}
	PreferredLeaderNotAvailable        = &Error{Code: 80, Name: "PREFERRED_LEADER_NOT_AVAILABLE", Message: "The preferred leader was not available.", Retriable: true, RefreshMetadata: true}
	GroupMaxSizeReached                = &Error{Code: 81, Name: "GROUP_MAX_SIZE_REACHED", Message: "The consumer group has reached its max size.", Retriable: false, RefreshMetadata: false}
	FencedInstanceID                   = &Error{Code: 82, Name: "FENCED_INSTANCE_ID", Message: "The broker rejected this static consumer since another consumer with the same group.instance.id has registered with a different member.id.", Retriable: false, RefreshMetadata: false}
	EligibleLeadersNotAvailable        = &Error{Code: 83, Name: "ELIGIBLE_LEADERS_NOT_AVAILABLE", Message: "Eligible topic partition leaders are not available.", Retriable: true, RefreshMetadata: true}
	ElectionNotNeeded                  = &Error{Code: 84, Name: "ELECTION_NOT_NEEDED", Message: "Leader election not needed for topic partition.", Retriable: true, RefreshMetadata: true}
	NoReassignmentInProgress           = &Error{Code: 85, Name: "NO_REASSIGNMENT_IN_PROGRESS", Message: "No partition reassignment is in progress.", Retriable: false, RefreshMetadata: false}
	GroupSubscribedToTopic             = &Error{Code: 86, Name: "GROUP_SUBSCRIBED_TO_TOPIC", Message: "Deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it.", Retriable: false, RefreshMetadata: false}
	InvalidRecord                      = &Error{Code: 87, Name: "INVALID_RECORD", Message: "This record has failed the validation on broker and hence will be rejected.", Retriable: false, RefreshMetadata: false}
	UnstableOffsetCommit               = &Error{Code: 88, Name: "UNSTABLE_OFFSET_COMMIT", Message: "There are unstable offsets that need to be cleared.", Retriable: true, RefreshMetadata: false}
	ThrottlingQuotaExceeded            = &Error{Code: 89, Name: "THROTTLING_QUOTA_EXCEEDED", Message: "The throttling quota has been exceeded.", Retriable: true, RefreshMetadata: false}
	ProducerFenced                     = &Error{Code: 90, Name: "PRODUCER_FENCED", Message: "There is a newer producer with the same transactionalId which fences the current one.", Retriable: false, RefreshMetadata: false}
	ResourceNotFound                   = &Error{Code: 91, Name: "RESOURCE_NOT_FOUND", Message: "A request illegally referred to a resource that does not exist.", Retriable: false, RefreshMetadata: false}
	DuplicateResource                  = &Error{Code: 92, Name: "DUPLICATE_RESOURCE", Message: "A request illegally referred to the same resource twice.", Retriable: false, RefreshMetadata: false}
	UnacceptableCredential             = &Error{Code: 93, Name: "UNACCEPTABLE_CREDENTIAL", Message: "Requested credential would not meet criteria for acceptability.", Retriable: false, RefreshMetadata: false}
	InconsistentVoterSet               = &Error{Code: 94, Name: "INCONSISTENT_VOTER_SET", Message: "Indicates that the either the sender or recipient of a voter-only request is not one of the expected voters.", Retriable: false, RefreshMetadata: false}
	InvalidUpdateVersion               = &Error{Code: 95, Name: "INVALID_UPDATE_VERSION", Message: "The given update version was invalid.", Retriable: false, RefreshMetadata: false}
	FeatureUpdateFailed                = &Error{Code: 96, Name: "FEATURE_UPDATE_FAILED", Message: "Unable to update finalized features due to an unexpected server error.", Retriable: false, RefreshMetadata: false}
	PrincipalDeserializationFailure    = &Error{Code: 97, Name: "PRINCIPAL_DESERIALIZATION_FAILURE", Message: "Request principal deserialization failed during forwarding. This indicates an internal error on the broker cluster security setup.", Retriable: false, RefreshMetadata: false}
	SnapshotNotFound                   = &Error{Code: 98, Name: "SNAPSHOT_NOT_FOUND", Message: "Requested snapshot was not found.", Retriable: false, RefreshMetadata: false}
	UnknownTopicID                     = &Error{Code: 100, Name: "UNKNOWN_TOPIC_ID", Message: "This server does not host this topic ID.", Retriable: true, RefreshMetadata: true}
	DuplicateBrokerRegistration        = &Error{Code: 101, Name: "DUPLICATE_BROKER_REGISTRATION", Message: "This broker ID is already in use.", Retriable: false, RefreshMetadata: false}
	BrokerIDNotRegistered              = &Error{Code: 102, Name: "BROKER_ID_NOT_REGISTERED", Message: "The given broker ID was not registered.", Retriable: false, RefreshMetadata: false}
	InconsistentTopicID                = &Error{Code: 103, Name: "INCONSISTENT_TOPIC_ID", Message: "The log's topic ID did not match the topic ID in the request.", Retriable: true, RefreshMetadata: true}
	InconsistentClusterID              = &Error{Code: 104, Name: "INCONSISTENT_CLUSTER_ID", Message: "The clusterId in the request does not match that found on the server.", Retriable: false, RefreshMetadata: false}
	TransactionalIDNotFound            = &Error{Code: 105, Name: "TRANSACTIONAL_ID_NOT_FOUND", Message: "The transactionalId could not be found.", Retriable: false, RefreshMetadata: false}
	FetchSessionTopicIDError           = &Error{Code: 106, Name: "FETCH_SESSION_TOPIC_ID_ERROR", Message: "The fetch session encountered inconsistent topic ID usage.", Retriable: true, RefreshMetadata: false}
	IneligibleReplica                  = &Error{Code: 107, Name: "INELIGIBLE_REPLICA", Message: "The new ISR contains at least one ineligible replica.", Retriable: false, RefreshMetadata: false}
	NewLeaderElected                   = &Error{Code: 108, Name: "NEW_LEADER_ELECTED", Message: "The AlterPartition request successfully updated the partition state but the leader has changed.", Retriable: false, RefreshMetadata: false}
	OffsetMovedToTieredStorage         = &Error{Code: 109, Name: "OFFSET_MOVED_TO_TIERED_STORAGE", Message: "The requested offset is moved to tiered storage.", Retriable: false, RefreshMetadata: false}
	FencedMemberEpoch                  = &Error{Code: 110, Name: "FENCED_MEMBER_EPOCH", Message: "The member epoch is fenced by the group coordinator. The member must abandon all its partitions and rejoin.", Retriable: false, RefreshMetadata: false}
	UnreleasedInstanceID               = &Error{Code: 111, Name: "UNRELEASED_INSTANCE_ID", Message: "The instance ID is still used by another member in the consumer group. That member must leave first.", Retriable: false, RefreshMetadata: false}
	UnsupportedAssignor                = &Error{Code: 112, Name: "UNSUPPORTED_ASSIGNOR", Message: "The assignor or its version range is not supported by the consumer group.", Retriable: false, RefreshMetadata: false}
	StaleMemberEpoch                   = &Error{Code: 113, Name: "STALE_MEMBER_EPOCH", Message: "The member epoch is stale. The member must retry after receiving its updated member epoch via the ConsumerGroupHeartbeat API.", Retriable: false, RefreshMetadata: false}
	MismatchedEndpointType             = &Error{Code: 114, Name: "MISMATCHED_ENDPOINT_TYPE", Message: "The request was sent to an endpoint of the wrong type.", Retriable: false, RefreshMetadata: false}
	UnsupportedEndpointType            = &Error{Code: 115, Name: "UNSUPPORTED_ENDPOINT_TYPE", Message: "This endpoint type is not supported yet.", Retriable: false, RefreshMetadata: false}
	UnknownControllerID                = &Error{Code: 116, Name: "UNKNOWN_CONTROLLER_ID", Message: "This controller ID is not known.", Retriable: false, RefreshMetadata: false}
	UnknownSubscriptionID              = &Error{Code: 117, Name: "UNKNOWN_SUBSCRIPTION_ID", Message: "Client sent a push telemetry request with an invalid or outdated subscription ID.", Retriable: false, RefreshMetadata: false}
	TelemetryTooLarge                  = &Error{Code: 118, Name: "TELEMETRY_TOO_LARGE", Message: "Client sent a push telemetry request larger than the maximum size the broker will accept.", Retriable: false, RefreshMetadata: false}
	InvalidRegistration                = &Error{Code: 119, Name: "INVALID_REGISTRATION", Message: "The controller has considered the broker registration to be invalid.", Retriable: false, RefreshMetadata: false}
	TransactionAbortable               = &Error{Code: 120, Name: "TRANSACTION_ABORTABLE", Message: "The server encountered an error with the transaction. The client can abort the transaction to continue using this transactional ID.", Retriable: false, RefreshMetadata: false}
	InvalidRecordState                 = &Error{Code: 121, Name: "INVALID_RECORD_STATE", Message: "The record state is invalid. The acknowledgement of delivery could not be completed.", Retriable: false, RefreshMetadata: false}
	ShareSessionNotFound               = &Error{Code: 122, Name: "SHARE_SESSION_NOT_FOUND", Message: "The share session was not found.", Retriable: true, RefreshMetadata: false}
	InvalidShareSessionEpoch           = &Error{Code: 123, Name: "INVALID_SHARE_SESSION_EPOCH", Message: "The share session epoch is invalid.", Retriable: true, RefreshMetadata: false}
	FencedStateEpoch                   = &Error{Code: 124, Name: "FENCED_STATE_EPOCH", Message: "The share coordinator rejected the request because the share-group state epoch did not match.", Retriable: false, RefreshMetadata: false}
	InvalidVoterKey                    = &Error{Code: 125, Name: "INVALID_VOTER_KEY", Message: "The voter key doesn't match the receiving replica's key.", Retriable: false, RefreshMetadata: false}
	DuplicateVoter                     = &Error{Code: 126, Name: "DUPLICATE_VOTER", Message: "The voter is already part of the set of voters.", Retriable: false, RefreshMetadata: false}
	VoterNotFound                      = &Error{Code: 127, Name: "VOTER_NOT_FOUND", Message: "The voter is not part of the set of voters.", Retriable: false, RefreshMetadata: false}
	InvalidRegularExpression           = &Error{Code: 128, Name: "INVALID_REGULAR_EXPRESSION", Message: "The regular expression is not valid.", Retriable: false, RefreshMetadata: false}
)

// known returns the shared value for a code the table holds, nil otherwise.
// A switch rather than a map keeps the table free of mutable state.
func known(code int16) *Error {
	switch code {
	case -1:
		return UnknownServerError
	case 1:
		return OffsetOutOfRange
	case 2:
		return CorruptMessage
	case 3:
		return UnknownTopicOrPartition
	case 4:
		return InvalidFetchSize
	case 5:
		return LeaderNotAvailable
	case 6:
		return NotLeaderOrFollower
	case 7:
		return RequestTimedOut
	case 8:
		return BrokerNotAvailable
	case 9:
		return ReplicaNotAvailable
	case 10:
		return MessageTooLarge
	case 11:
		return StaleControllerEpoch
	case 12:
		return OffsetMetadataTooLarge
	case 13:
		return NetworkException
	case 14:
		return CoordinatorLoadInProgress
	case 15:
		return CoordinatorNotAvailable
	case 16:
		return NotCoordinator
	case 17:
		return InvalidTopicException
	case 18:
		return RecordListTooLarge
	case 19:
		return NotEnoughReplicas
	case 20:
		return NotEnoughReplicasAfterAppend
	case 21:
		return InvalidRequiredAcks
	case 22:
		return IllegalGeneration
	case 23:
		return InconsistentGroupProtocol
	case 24:
		return InvalidGroupID
	case 25:
		return UnknownMemberID
	case 26:
		return InvalidSessionTimeout
	case 27:
		return RebalanceInProgress
	case 28:
		return InvalidCommitOffsetSize
	case 29:
		return TopicAuthorizationFailed
	case 30:
		return GroupAuthorizationFailed
	case 31:
		return ClusterAuthorizationFailed
	case 32:
		return InvalidTimestamp
	case 33:
		return UnsupportedSASLMechanism
	case 34:
		return IllegalSASLState
	case 35:
		return UnsupportedVersion
	case 36:
		return TopicAlreadyExists
	case 37:
		return InvalidPartitions
	case 38:
		return InvalidReplicationFactor
	case 39:
		return InvalidReplicaAssignment
	case 40:
		return InvalidConfig
	case 41:
		return NotController
	case 42:
		return InvalidRequest
	case 43:
		return UnsupportedForMessageFormat
	case 44:
		return PolicyViolation
	case 45:
		return OutOfOrderSequenceNumber
	case 46:
		return DuplicateSequenceNumber
	case 47:
		return InvalidProducerEpoch
	case 48:
		return InvalidTxnState
	case 49:
		return InvalidProducerIDMapping
	case 50:
		return InvalidTransactionTimeout
	case 51:
		return ConcurrentTransactions
	case 52:
		return TransactionCoordinatorFenced
	case 53:
		return TransactionalIDAuthorizationFailed
	case 54:
		return SecurityDisabled
	case 55:
		return OperationNotAttempted
	case 56:
		return KafkaStorageError
	case 57:
		return LogDirNotFound
	case 58:
		return SASLAuthenticationFailed
	case 59:
		return UnknownProducerID
	case 60:
		return ReassignmentInProgress
	case 61:
		return DelegationTokenAuthDisabled
	case 62:
		return DelegationTokenNotFound
	case 63:
		return DelegationTokenOwnerMismatch
	case 64:
		return DelegationTokenRequestNotAllowed
	case 65:
		return DelegationTokenAuthorizationFailed
	case 66:
		return DelegationTokenExpired
	case 67:
		return InvalidPrincipalType
	case 68:
		return NonEmptyGroup
	case 69:
		return GroupIDNotFound
	case 70:
		return FetchSessionIDNotFound
	case 71:
		return InvalidFetchSessionEpoch
	case 72:
		return ListenerNotFound
	case 73:
		return TopicDeletionDisabled
	case 74:
		return FencedLeaderEpoch
	case 75:
		return UnknownLeaderEpoch
	case 76:
		return UnsupportedCompressionType
	case 77:
		return StaleBrokerEpoch
	case 78:
		return OffsetNotAvailable
	case 79:
		return MemberIDRequired
	case 80:
		return PreferredLeaderNotAvailable
	case 81:
		return GroupMaxSizeReached
	case 82:
		return FencedInstanceID
	case 83:
		return EligibleLeadersNotAvailable
	case 84:
		return ElectionNotNeeded
	case 85:
		return NoReassignmentInProgress
	case 86:
		return GroupSubscribedToTopic
	case 87:
		return InvalidRecord
	case 88:
		return UnstableOffsetCommit
	case 89:
		return ThrottlingQuotaExceeded
	case 90:
		return ProducerFenced
	case 91:
		return ResourceNotFound
	case 92:
		return DuplicateResource
	case 93:
		return UnacceptableCredential
	case 94:
		return InconsistentVoterSet
	case 95:
		return InvalidUpdateVersion
	case 96:
		return FeatureUpdateFailed
	case 97:
		return PrincipalDeserializationFailure
	case 98:
		return SnapshotNotFound
	case 100:
		return UnknownTopicID
	case 101:
		return DuplicateBrokerRegistration
	case 102:
		return BrokerIDNotRegistered
	case 103:
		return InconsistentTopicID
	case 104:
		return InconsistentClusterID
	case 105:
		return TransactionalIDNotFound
	case 106:
		return FetchSessionTopicIDError
	case 107:
		return IneligibleReplica
	case 108:
		return NewLeaderElected
	case 109:
		return OffsetMovedToTieredStorage
	case 110:
		return FencedMemberEpoch
	case 111:
		return UnreleasedInstanceID
	case 112:
		return UnsupportedAssignor
	case 113:
		return StaleMemberEpoch
	case 114:
		return MismatchedEndpointType
	case 115:
		return UnsupportedEndpointType
	case 116:
		return UnknownControllerID
	case 117:
		return UnknownSubscriptionID
	case 118:
		return TelemetryTooLarge
	case 119:
		return InvalidRegistration
	case 120:
		return TransactionAbortable
	case 121:
		return InvalidRecordState
	case 122:
		return ShareSessionNotFound
	case 123:
		return InvalidShareSessionEpoch
	case 124:
		return FencedStateEpoch
	case 125:
		return InvalidVoterKey
	case 126:
		return DuplicateVoter
	case 127:
		return VoterNotFound
	case 128:
		return InvalidRegularExpression
	}
	return nil
}
